// The MMS emulator console: the few things a server-rendered page cannot do alone.
// Every value from the server goes into the page as text (textContent), never as HTML.
"use strict";

function csrfToken() {
  const meta = document.querySelector('meta[name="mms-console-csrf"]');
  return meta ? meta.getAttribute("content") : "";
}

// Forms that change state ask first (regenerating a key breaks the clients that use it).
function confirmForms() {
  for (const form of document.querySelectorAll("form[data-confirm]")) {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) {
        event.preventDefault();
      }
    });
  }
}

// The score box: the pasted JSON goes to the console, which calls the scoring URI with
// the service's key; the key never reaches the page.
function scoreBox() {
  const form = document.getElementById("score-form");
  if (!form) {
    return;
  }
  const input = document.getElementById("score-input");
  const status = document.getElementById("score-status");
  const answer = document.getElementById("score-answer");
  const send = document.getElementById("score-send");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    send.disabled = true;
    status.textContent = "Sending…";
    answer.textContent = "";
    status.className = "muted";
    try {
      const response = await fetch(form.dataset.scoreUrl, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-MMS-Console-CSRF": csrfToken() },
        body: input.value,
        credentials: "same-origin",
      });
      const result = await response.json();
      if (!response.ok) {
        status.textContent = `The console refused it (${response.status}): ${result.message}`;
        status.className = "problem";
        return;
      }
      status.textContent = `HTTP ${result.status} in ${result.latencyMs} ms` +
        (result.truncated ? " (answer cut at 64 KiB)" : "");
      status.className = result.status < 400 ? "state ok" : "state failed";
      answer.textContent = pretty(result.body);
    } catch (error) {
      status.textContent = `The console did not answer: ${error}`;
      status.className = "problem";
    } finally {
      send.disabled = false;
    }
  });
}

function pretty(text) {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch (error) {
    return text;
  }
}

// A service's log, followed while the page is open.
function liveLog() {
  const log = document.getElementById("service-log");
  if (!log) {
    return;
  }
  const refresh = async () => {
    try {
      const response = await fetch(log.dataset.logUrl, { credentials: "same-origin" });
      if (response.ok) {
        const text = await response.text();
        const atEnd = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
        log.textContent = text || "(nothing logged yet)";
        if (atEnd) {
          log.scrollTop = log.scrollHeight;
        }
      }
    } finally {
      window.setTimeout(refresh, 2000);
    }
  };
  refresh();
}

// A page showing work in flight reloads itself until the work is done.
function reloadWhileBusy() {
  const delay = Number(document.body.dataset.reloadWhileBusy || 0);
  if (delay > 0) {
    window.setTimeout(() => window.location.reload(), delay);
  }
}

document.addEventListener("DOMContentLoaded", () => {
  confirmForms();
  scoreBox();
  liveLog();
  reloadWhileBusy();
});
