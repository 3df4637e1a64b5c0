// index.html: sorting, filtering and the full-size viewer. Values come from data-
// attributes; nothing of the report is spliced into this script.
(() => {
  "use strict";
  const table = document.getElementById("summary");
  const body = table.tBodies[0];
  const rows = Array.from(body.rows);
  rows.forEach((r, i) => { r.dataset.i = i; });
  const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: "base" });
  // The page comes sorted by status (failed first), then in the config's order.
  let sortKey = "status";
  let dir = 1;

  const value = (r, key, numeric) => {
    const v = r.dataset[key];
    if (v === undefined || v === "") return null;
    return numeric ? Number(v) : v;
  };
  const sortBy = (th) => {
    const key = th.dataset.key;
    const numeric = th.dataset.type === "num";
    if (sortKey === key) {
      dir = -dir;
    } else {
      sortKey = key;
      dir = numeric ? -1 : 1; // figures: largest first
    }
    const sorted = rows.slice().sort((a, b) => {
      const x = value(a, key, numeric);
      const y = value(b, key, numeric);
      if (x === null || y === null) {
        if (x !== y) return x === null ? 1 : -1; // rows without the figure go last
      } else {
        const c = numeric ? x - y : collator.compare(x, y);
        if (c !== 0) return dir * c;
      }
      return a.dataset.i - b.dataset.i;
    });
    body.append(...sorted);
    for (const h of table.tHead.rows[0].cells) h.removeAttribute("aria-sort");
    th.setAttribute("aria-sort", dir > 0 ? "ascending" : "descending");
  };
  table.tHead.addEventListener("click", (e) => {
    const button = e.target.closest("th[data-key] button");
    if (button) sortBy(button.parentElement);
  });

  const filter = document.getElementById("filter");
  const shown = document.getElementById("shown");
  const applyFilter = () => {
    const q = filter.value.trim().toLowerCase();
    let n = 0;
    for (const r of rows) {
      const hide = q !== "" && !r.dataset.name.toLowerCase().includes(q);
      r.hidden = hide;
      if (!hide) n += 1;
    }
    shown.textContent = `${n} of ${rows.length} shown`;
  };
  filter.addEventListener("input", applyFilter);
  applyFilter(); // a value the browser kept across a reload

  const viewer = document.getElementById("viewer");
  const image = document.getElementById("viewer-img");
  const name = document.getElementById("viewer-name");
  const link = document.getElementById("viewer-open");
  let current = null;
  const show = (tr) => {
    const a = tr.querySelector("a.graph");
    current = tr;
    image.src = a.getAttribute("href");
    image.alt = `${tr.dataset.name} bandwidth graph`;
    name.textContent = tr.dataset.name;
    link.href = a.getAttribute("href");
    if (!viewer.open) viewer.showModal();
  };
  body.addEventListener("click", (e) => {
    const a = e.target.closest("a.graph");
    if (!a || e.button !== 0 || e.ctrlKey || e.metaKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    show(a.closest("tr"));
  });
  const step = (by) => {
    const visible = Array.from(body.rows).filter((r) => !r.hidden && r.querySelector("a.graph"));
    const i = visible.indexOf(current);
    const next = visible[i + by];
    if (next) show(next);
  };
  viewer.addEventListener("keydown", (e) => {
    if (e.key === "ArrowRight") step(1);
    else if (e.key === "ArrowLeft") step(-1);
  });
  viewer.addEventListener("click", (e) => {
    if (e.target === viewer) viewer.close(); // the backdrop
  });
})();
