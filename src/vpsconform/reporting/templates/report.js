(() => {
  "use strict";
  const fields = ["verdict", "area", "level"];
  const form = document.getElementById("filters");
  const rows = Array.from(document.querySelectorAll("details.req"));
  const shown = document.getElementById("shown");
  const empty = document.getElementById("no-match");

  const matches = (row, field, wanted) => {
    if (!wanted) return true;
    const value = row.dataset[field];
    return wanted.startsWith("!") ? value !== wanted.slice(1) : value === wanted;
  };

  const apply = () => {
    let count = 0;
    for (const row of rows) {
      const visible = fields.every((field) => matches(row, field, form.elements[field].value));
      row.hidden = !visible;
      if (visible) count += 1;
    }
    shown.textContent = `showing ${count} of ${rows.length} requirements`;
    empty.hidden = count > 0;
  };

  if (form) {
    const params = new URLSearchParams(window.location.search);
    for (const field of fields) {
      const select = form.elements[field];
      const wanted = params.get(field);
      if (wanted && Array.from(select.options).some((option) => option.value === wanted)) {
        select.value = wanted;
      }
    }
    form.addEventListener("change", apply);
    form.addEventListener("reset", () => window.setTimeout(apply, 0));
    form.hidden = false;
    apply();
  }

  const openNamed = () => {
    const id = decodeURIComponent(window.location.hash.slice(1));
    const target = id ? document.getElementById(id) : null;
    if (target && target.matches("details.req")) {
      target.hidden = false;
      target.open = true;
    }
  };
  window.addEventListener("hashchange", openNamed);
  openNamed();

  const copied = (button, ok) => {
    button.textContent = ok ? "Copied" : "Select and copy";
    window.setTimeout(() => { button.textContent = "Copy"; }, 1600);
  };
  const fallbackCopy = (text, button) => {
    const area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    let ok = false;
    try { ok = document.execCommand("copy"); } catch (error) { ok = false; }
    area.remove();
    copied(button, ok);
  };
  document.addEventListener("click", (event) => {
    const button = event.target.closest("button.copy");
    if (!button) return;
    const text = button.parentElement.querySelector("code").textContent;
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(() => copied(button, true), () => fallbackCopy(text, button));
    } else {
      fallbackCopy(text, button);
    }
  });
  for (const button of document.querySelectorAll("button.copy")) button.hidden = false;
})();
