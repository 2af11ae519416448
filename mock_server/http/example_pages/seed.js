// The seed's browser client, verbatim but for its URL ('/api/jobs/123/events' became
// `url`, the ticketed events URL that eventsource.js read from the page's fragment).
const eventSource = new EventSource(url);

eventSource.addEventListener('status', (e) => {
  const data = JSON.parse(e.data);
  updateStatus(data.status);
});

eventSource.addEventListener('progress', (e) => {
  const data = JSON.parse(e.data);
  updateProgressBar(data.current / data.total * 100);
});

eventSource.addEventListener('complete', (e) => {
  const data = JSON.parse(e.data);
  eventSource.close();
  window.location.href = data.resultUrl;
});
