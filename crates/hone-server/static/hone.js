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

// A running run's page follows it: the server sends an event when the run changes, and the
// page fetches itself again and swaps in its new curves and metrics (no polling loop here).
const live = document.getElementById("live");
if (live && live.dataset.events) {
  const events = new EventSource(live.dataset.events);
  const refresh = async () => {
    const r = await fetch(location.href, { headers: { Accept: "text/html" } });
    if (!r.ok) return;
    const page = new DOMParser().parseFromString(await r.text(), "text/html");
    const fresh = page.getElementById("live");
    if (fresh) {
      live.innerHTML = fresh.innerHTML;
      localTimes(live);
    }
  };
  events.addEventListener("changed", refresh);
  events.addEventListener("ended", () => { events.close(); refresh(); });
}
