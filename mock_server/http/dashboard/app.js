// The dashboard's entry point: sign-in, sign-out, and the wiring of the form, the
// job list and the live stream.

import { ApiError, clearToken, json, setToken, token, whenUnauthorized } from "./api.js";
import { loadTypes, readForm, showFields, showProblem } from "./forms.js";
import * as jobs from "./jobs.js";
import { Live } from "./stream.js";

const $ = (id) => document.getElementById(id);

const live = new Live({
  onEvent: jobs.onEvent,
  onReopen: () => jobs.refresh().catch(listFailed),
  onState: (text) => {
    $("live").textContent = text;
    $("live").dataset.state = text === "live" ? "live" : "off";
  },
});

function listFailed(err) {
  if (err instanceof ApiError && err.status === 401) return;
  $("jobs-error").textContent = `could not read the jobs: ${err.message}`;
}

function showSignIn(message) {
  live.stop();
  jobs.reset();
  $("board").hidden = true;
  $("sign-out").hidden = true;
  $("live").hidden = true;
  $("sign-in").hidden = false;
  $("sign-in-error").textContent = message || "";
  $("token").value = "";
  $("token").focus();
}

async function showBoard() {
  $("sign-in").hidden = true;
  $("board").hidden = false;
  $("sign-out").hidden = false;
  $("live").hidden = false;
  jobs.reset();
  await Promise.all([
    loadTypes().catch((err) => {
      $("submit-error").textContent = `could not read the job types: ${err.message}`;
    }),
    jobs.refresh().catch(listFailed),
  ]);
  if (!document.activeElement || document.activeElement === document.body) {
    $("job-type").focus(); // keyboard users start at the form
  }
  await live.start();
}

// Any 401 (an expired or revoked token): forget it and ask again.
whenUnauthorized(() => {
  if (!token()) return;
  clearToken();
  showSignIn("The server did not accept the token (401): sign in again.");
});

$("sign-in-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const value = $("token").value.trim();
  if (!value) {
    $("sign-in-error").textContent = "Enter a token.";
    return;
  }
  try {
    await json("/api/jobs?limit=1", { auth: value }); // checked before it is kept
  } catch (err) {
    $("sign-in-error").textContent =
      err instanceof ApiError && err.status === 401
        ? "The server did not accept this token."
        : `Could not sign in: ${err.message}`;
    return;
  }
  setToken(value);
  $("token").value = "";
  showBoard();
});

$("sign-out").addEventListener("click", () => {
  clearToken();
  showSignIn();
});

$("job-type").addEventListener("change", showFields);

$("submit-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("submit-error").textContent = "";
  const body = readForm();
  if (!body) return;
  const button = event.submitter || $("submit-form").querySelector("button[type=submit]");
  button.disabled = true;
  try {
    const accepted = await json("/api/jobs", { method: "POST", body });
    jobs.onEvent("status", { jobId: accepted.jobId, status: accepted.status });
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 401)) showProblem(err);
  } finally {
    button.disabled = false;
  }
});

$("more").addEventListener("click", () => jobs.more().catch(listFailed));

if (token()) showBoard();
else showSignIn();
