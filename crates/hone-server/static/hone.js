// The reader's theme choice (dark or light), kept in this browser; without one the system's.
const theme = localStorage.getItem("hone-theme");
if (theme) document.documentElement.dataset.theme = theme;
const themeButton = document.getElementById("theme");
if (themeButton) {
  themeButton.addEventListener("click", () => {
    const dark = document.documentElement.dataset.theme
      ? document.documentElement.dataset.theme === "dark"
      : matchMedia("(prefers-color-scheme: dark)").matches;
    const next = dark ? "light" : "dark";
    document.documentElement.dataset.theme = next;
    localStorage.setItem("hone-theme", next);
  });
}

// Times are rendered in UTC (ISO 8601) by the server; show them in the reader's time zone.
function localTimes(root) {
  root.querySelectorAll("time[datetime]").forEach((t) => {
    const d = new Date(t.getAttribute("datetime"));
    if (!Number.isNaN(d.getTime())) {
      t.title = t.getAttribute("datetime");
      t.textContent = d.toLocaleString();
    }
  });
}
localTimes(document);

// A live page (a running run, the runs table's first page, a running study) follows what it
// shows: the server sends an event when that changes, and the page fetches itself again and
// swaps in its live part (no polling loop here). Ticked rows stay ticked.
const live = document.getElementById("live");
if (live && live.dataset.events) {
  const events = new EventSource(live.dataset.events);
  const refresh = async () => {
    const r = await fetch(location.href, { headers: { Accept: "text/html" } });
    if (!r.ok) return;
    const page = new DOMParser().parseFromString(await r.text(), "text/html");
    const fresh = page.getElementById("live");
    if (fresh) {
      const ticked = new Set([...live.querySelectorAll("input[type=checkbox]:checked")].map((c) => c.value));
      live.innerHTML = fresh.innerHTML;
      live.querySelectorAll("input[type=checkbox]").forEach((c) => { c.checked = ticked.has(c.value); });
      localTimes(live);
      live.dispatchEvent(new Event("refreshed"));
    }
  };
  events.addEventListener("changed", refresh);
  events.addEventListener("ended", () => { events.close(); refresh(); });
}

// The compare button asks for 2 to 10 ticked runs.
const compare = document.getElementById("compare");
if (compare) {
  compare.addEventListener("submit", (e) => {
    const n = compare.querySelectorAll("input[name=run]:checked").length;
    if (n < 2 || n > 10) {
      e.preventDefault();
      alert(`Tick 2 to 10 runs to compare (${n} ticked).`);
    }
  });
}
