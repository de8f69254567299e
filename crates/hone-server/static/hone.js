// Times are rendered in UTC (ISO 8601) by the server; show them in the reader's time zone.
document.querySelectorAll("time[datetime]").forEach((t) => {
  const d = new Date(t.getAttribute("datetime"));
  if (!Number.isNaN(d.getTime())) {
    t.title = t.getAttribute("datetime");
    t.textContent = d.toLocaleString();
  }
});
