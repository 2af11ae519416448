// The page around the seed's snippet (seed.js): where its URL comes from, and the two
// functions it calls. Everything from the network is shown with textContent, never HTML.
"use strict";

// The ticketed events URL, from the fragment (#url=...): never sent to any server.
// Only a URL on this page's own origin is used.
var url = (function () {
  var given = new URLSearchParams(window.location.hash.slice(1)).get("url");
  if (!given) {
    return fail("no events URL: open this page as eventsource.html#url=<ticketed URL>");
  }
  var parsed;
  try {
    parsed = new URL(given, window.location.href);
  } catch (e) {
    return fail("that events URL does not parse");
  }
  if (parsed.origin !== window.location.origin) {
    return fail("the events URL must be on this server's origin");
  }
  return parsed.href;
})();

function fail(message) {
  var problem = document.getElementById("problem");
  problem.textContent = message;
  problem.hidden = false;
  return "about:blank";
}

function updateStatus(status) {
  document.getElementById("status").textContent = String(status);
}

function updateProgressBar(percent) {
  var value = Math.max(0, Math.min(100, Number(percent) || 0));
  var bar = document.getElementById("progress");
  bar.value = value;
  bar.textContent = Math.round(value) + " %";
  document.getElementById("percent").textContent = Math.round(value) + " %";
}
