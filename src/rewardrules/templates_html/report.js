"use strict";
// The award table's filter: words typed in the search box (all must appear
// in a row) and a status. At most a page of matching rows is shown at once
// (a browser lays out tens of thousands of table rows slowly); "Show more"
// adds a page. Listeners are attached here, never inline.
(function () {
  const table = document.getElementById("awards");
  const filters = document.getElementById("award-filters");
  const search = document.getElementById("award-search");
  const status = document.getElementById("award-status");
  const count = document.getElementById("award-count");
  const more = document.getElementById("award-more");
  if (!table || !filters || !search || !status || !count || !more) {
    return;
  }
  const page = Number(table.dataset.pageSize) || 500;
  const rows = Array.from(table.tBodies[0].rows);
  const texts = rows.map((row) => row.textContent.replace(/\s+/g, " ").toLowerCase());
  const number = (n) => n.toLocaleString("en-US");
  const awards = (n) => `${number(n)} ${n === 1 ? "award" : "awards"}`;
  let limit = page;

  function update() {
    const words = search.value.toLowerCase().split(/\s+/).filter(Boolean);
    const wanted = status.value;
    let matches = 0;
    rows.forEach((row, i) => {
      const match = (!wanted || row.dataset.status === wanted) && words.every((w) => texts[i].includes(w));
      const visible = match && matches < limit;
      if (match) {
        matches += 1;
      }
      if (row.hidden === visible) {
        row.hidden = !visible;
      }
    });
    const shown = Math.min(matches, limit);
    if (shown === rows.length) {
      count.textContent = awards(rows.length);
    } else if (shown === matches || matches === rows.length) {
      count.textContent = `${number(shown)} of ${awards(rows.length)} shown`;
    } else {
      count.textContent = `${number(shown)} of ${number(matches)} matching awards shown (${awards(rows.length)} in all)`;
    }
    more.hidden = matches <= limit;
    more.textContent = `Show ${number(Math.min(page, matches - limit))} more`;
  }

  // Typing in a large table waits for a pause; a small one follows each key.
  const delay = rows.length > 2000 ? 200 : 0;
  let timer = 0;
  function restart() {
    limit = page;
    if (delay) {
      window.clearTimeout(timer);
      timer = window.setTimeout(update, delay);
    } else {
      update();
    }
  }

  search.addEventListener("input", restart);
  status.addEventListener("change", restart);
  more.addEventListener("click", () => {
    limit += page;
    update();
  });
  filters.hidden = false;
  update();
})();
