// certplane's web view: the page's view is fetched again whenever the
// server says, over server-sent events, that the cluster changed. No
// framework, nothing loaded from elsewhere.
"use strict";

(function () {
  const view = document.getElementById("view");
  const live = document.getElementById("live");
  if (!view || !live || !window.EventSource) {
    return;
  }

  function setLive(state, text) {
    live.dataset.state = state;
    live.textContent = text;
  }

  // One fetch at a time; a change while fetching fetches once more after.
  let busy = false;
  let again = false;
  let timer = 0;

  function fragmentURL() {
    const url = new URL(window.location.href);
    url.searchParams.set("fragment", "1");
    return url;
  }

  async function refresh() {
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    try {
      const resp = await fetch(fragmentURL(), { credentials: "same-origin", headers: { Accept: "text/html" } });
      if (resp.status === 401) {
        window.location.assign("/login");
        return;
      }
      if (resp.ok) {
        view.innerHTML = await resp.text();
        view.dispatchEvent(new CustomEvent("certplane:updated", { bubbles: true }));
        document.body.dataset.updated = String(Date.now());
        setLive("live", "live · updated " + new Date().toLocaleTimeString());
      }
    } catch (err) {
      setLive("error", "update failed");
    } finally {
      busy = false;
      if (again) {
        again = false;
        schedule();
      }
    }
  }

  function schedule() {
    window.clearTimeout(timer);
    timer = window.setTimeout(refresh, 150);
  }

  let opened = false;
  const events = new EventSource("/events");
  events.addEventListener("hello", function (e) {
    // After a reconnection changes may have been missed, and so may they
    // between the page's listing and its stream: the hello says how many
    // changes the server has seen, the page how many it had.
    let generation = "";
    try {
      generation = String(JSON.parse(e.data).generation);
    } catch (err) {
      // an old server's hello has no count: fetch again
    }
    if (opened || generation !== live.dataset.generation) {
      schedule();
    }
    opened = true;
    setLive("live", "live");
  });
  events.addEventListener("change", schedule);
  events.addEventListener("error", function () {
    setLive("reconnecting", "reconnecting");
  });
  window.addEventListener("pagehide", function () {
    events.close();
  });
})();
