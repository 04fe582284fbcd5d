/// The annunciator page `GET /` serves: every zone as a tile coloured by its state, its causes and any countdown,
/// the devices up and down, and the last 20 alert-log records, updated every second from `/status` and `/records`.
///
/// One HTML document with its CSS and JS inline and nothing fetched from anywhere else (gateways are offline; the
/// `Content-Security-Policy` lets the browser load nothing but this page's own two JSON answers). Read-only: no
/// form, no button, no request but GET — commands stay on the control socket, where the peer's uid is known. Data
/// from the site file and the devices (zone names, causes, messages) only ever reaches the page as `textContent`.
public enum AnnunciatorPage {
    /// The `Content-Security-Policy` it is served with: inline script and style only, `fetch` to its own origin
    /// only, no forms, frames, images or fonts.
    public static let contentSecurityPolicy =
        "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; "
        + "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

    /// The document.
    public static let html = #"""
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>FireWatch annunciator</title>
        <style>
        :root { color-scheme: light dark; font-family: system-ui, sans-serif; }
        body { margin: 0; padding: 0.75rem; background: #111; color: #eee; }
        h1 { font-size: 1.3rem; margin: 0 0 0.25rem; }
        h2 { font-size: 1.05rem; margin: 1rem 0 0.4rem; }
        p { margin: 0.2rem 0; }
        code { font-family: ui-monospace, monospace; background: rgba(0,0,0,0.35); padding: 0 0.25rem; }
        .small { font-size: 0.8rem; color: #aaa; }
        #link { font-weight: bold; }
        #link[data-link="lost"] { background: #b00000; color: #fff; padding: 0.3rem 0.5rem; }
        #zones { display: grid; grid-template-columns: repeat(auto-fill, minmax(15rem, 1fr)); gap: 0.6rem; }
        .tile { border-radius: 6px; padding: 0.6rem 0.75rem; border: 3px solid transparent; overflow-wrap: anywhere; }
        .tile h3 { margin: 0; font-size: 1.1rem; }
        .tile .state { font-size: 1.5rem; font-weight: 800; letter-spacing: 0.05em; }
        .tile ul { margin: 0.3rem 0 0; padding-left: 1.1rem; }
        .tile .countdown { margin-top: 0.4rem; font-weight: bold; }
        .tile .remaining { font-size: 1.4rem; font-variant-numeric: tabular-nums; }
        .tile[data-state="normal"] { background: #1b5e20; color: #fff; }
        .tile[data-state="trouble"] { background: #f9a825; color: #000; }
        .tile[data-state="test"] { background: #4527a0; color: #fff; }
        .tile[data-state="inhibited"] {
          background: repeating-linear-gradient(45deg, #616161 0 12px, #757575 12px 24px); color: #fff;
        }
        .tile[data-state="alert"] { background: #e65100; color: #fff; }
        .tile[data-state="alarm"] { background: #d50000; color: #fff; border-color: #fff; }
        .tile[data-state="fire"] {
          background: #8b0000; color: #fff; border-color: #ffeb3b; animation: flash 1s steps(2) infinite;
        }
        @keyframes flash { 50% { background: #ff1744; } }
        @media (prefers-reduced-motion: reduce) { .tile[data-state="fire"] { animation: none; } }
        body[data-link="lost"] .tile { opacity: 0.55; }
        #devices { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: 0.3rem; }
        #devices li { padding: 0.15rem 0.45rem; border-radius: 4px; background: #333; }
        #devices li[data-up="down"] { background: #f9a825; color: #000; font-weight: bold; }
        #records { list-style: none; padding: 0; margin: 0; font-size: 0.9rem; }
        #records li { padding: 0.25rem 0.4rem; border-left: 4px solid #555; margin-bottom: 0.2rem; }
        #records li[data-severity="trouble"] { border-color: #f9a825; }
        #records li[data-severity="alert"] { border-color: #e65100; }
        #records li[data-severity="alarm"], #records li[data-severity="fire"] { border-color: #d50000; }
        #records .when { color: #aaa; font-variant-numeric: tabular-nums; }
        </style>
        </head>
        <body data-link="connecting">
        <header>
        <h1>FireWatch <span id="site"></span></h1>
        <p id="summary"></p>
        <p id="link" data-link="connecting">connecting to the daemon…</p>
        </header>
        <main>
        <section id="zones" aria-label="Zones" aria-live="polite"></section>
        <h2>Devices <span id="devices-count" class="small"></span></h2>
        <ul id="devices"></ul>
        <h2>Last 20 records <span class="small">(newest first, since this daemon started)</span></h2>
        <ol id="records"></ol>
        </main>
        <footer>
        <p class="small">Read only: no command can be given from this page. Commands
        (<code>firewatch ack|reset|abort|resume|enable ZONE</code>, <code>firewatch inhibit</code>) are typed at
        the gateway, on its control socket, which knows who gives them.</p>
        </footer>
        <script>
        "use strict";
        const $ = (id) => document.getElementById(id);

        // One display state per zone, most urgent first: test > fire > alarm > alert > trouble > inhibited > normal.
        // A zone in a walk test shows "test" whatever it latched: its latches are the test's (cleared when it ends,
        // nothing runs meanwhile), and the latch is written on the tile. fire and alarm come from the latch; alert
        // is any procedure state but normal without a latch (alert, isolating, …). Trouble needs someone to fix it,
        // so it outranks an inhibit; whatever a tile's state does not say is still written on the tile.
        // `test_until` may be absent (older daemons).
        function displayState(zone) {
          if (zone.test_until != null) return "test";
          if (zone.latched === "fire") return "fire";
          if (zone.latched) return "alarm";
          if (zone.state && zone.state !== "normal") return "alert";
          if (zone.trouble) return "trouble";
          if (zone.inhibited_until != null) return "inhibited";
          return "normal";
        }

        function element(tag, text, className) {
          const node = document.createElement(tag);
          if (text != null) node.textContent = String(text);
          if (className) node.className = className;
          return node;
        }

        function localTime(iso) {
          const ms = Date.parse(iso);
          return Number.isFinite(ms) ? new Date(ms).toLocaleString() : String(iso);
        }

        // Countdowns run on the daemon's clock (which a demo compresses): the rest of a delay is `until - now` as of
        // the last answer, then runs down at the pace the daemon's `now` moved between the last two answers.
        const clock = { siteMs: NaN, atMs: 0, rate: 1 };
        function siteNow() { return clock.siteMs + (performance.now() - clock.atMs) * clock.rate; }
        function spoken(ms) {
          const total = Math.max(0, Math.ceil(ms / 1000));
          const m = Math.floor(total / 60), s = total % 60;
          return m > 0 ? m + " min " + String(s).padStart(2, "0") + " s" : s + " s";
        }
        function tick() {
          for (const node of document.querySelectorAll(".remaining")) {
            node.textContent = spoken(Number(node.dataset.untilMs) - siteNow());
          }
        }

        function tile(zone) {
          const state = displayState(zone);
          const node = element("article", null, "tile");
          node.dataset.zone = zone.name;
          node.dataset.state = state;
          node.append(element("h3", zone.name));
          node.append(element("p", state.toUpperCase(), "state"));
          const procedure = [];
          if (zone.state && zone.state !== "normal") procedure.push(zone.state);
          for (const [name, key] of [["isolate", "isolate"], ["suppress", "suppress"], ["power_cut", "power_cut"]]) {
            if (zone[key] && zone[key] !== "idle") procedure.push(name + " " + zone[key]);
          }
          if (procedure.length) node.append(element("p", procedure.join(" · "), "procedure"));
          const overlays = [];
          if (zone.latched) overlays.push("latched " + zone.latched);
          if (zone.trouble) overlays.push("TROUBLE");
          if (zone.test_until != null) {
            const reason = zone.test_reason ? " (" + zone.test_reason + (zone.test_by ? ", " + zone.test_by : "") + ")" : "";
            overlays.push("WALK TEST until " + localTime(zone.test_until) + reason + ": nothing runs");
          }
          if (zone.inhibited_until != null) {
            const reason = zone.inhibit_reason ? " (" + zone.inhibit_reason + ")" : "";
            overlays.push("inhibited until " + localTime(zone.inhibited_until) + reason);
          }
          if (zone.acknowledged) overlays.push("acknowledged");
          if (overlays.length) node.append(element("p", overlays.join(" · "), "overlays"));
          const causes = element("ul", null, "causes");
          for (const cause of zone.causes || []) causes.append(element("li", cause));
          if (!causes.childElementCount) causes.append(element("li", "no cause"));
          node.append(causes);
          const step = zone.running;
          if (step) {
            const box = element("div", null, "countdown");
            box.append(element("p", step.procedure + " step " + (step.index + 1) + ": " + step.text));
            const until = step.until != null ? Date.parse(step.until) : NaN;
            if (Number.isFinite(until)) {
              const line = element("p", "left: ");
              const remaining = element("span", spoken(until - siteNow()), "remaining");
              remaining.dataset.untilMs = String(until);
              line.append(remaining);
              box.append(line);
            }
            if (step.procedure === "suppress") {
              const abort = element("p", "to stop the release, type at the gateway: ");
              abort.append(element("code", "firewatch abort " + zone.name));
              box.append(abort);
            }
            node.append(box);
          } else if (zone.suppress === "aborted") {
            const resume = element("p", "suppression aborted; ", "countdown");
            resume.append(element("code", "firewatch resume " + zone.name));
            resume.append(document.createTextNode(" restarts its countdown in full"));
            node.append(resume);
          }
          return node;
        }

        function device(entry) {
          const up = entry.up === true ? "up" : entry.up === false ? "down" : "pending";
          const node = element("li", entry.name + ": " + (up === "down" ? "DOWN" : up));
          node.dataset.device = entry.name;
          node.dataset.up = up;
          node.title = entry.endpoint + (up === "down" && entry.last_error ? " — " + entry.last_error : "");
          if (up === "down" && entry.last_error) node.append(element("span", " — " + entry.last_error, "small"));
          return node;
        }

        function record(entry) {
          const node = element("li");
          node.dataset.severity = entry.severity || "";
          node.dataset.event = entry.event || "";
          node.append(element("span", localTime(entry.time) + " ", "when"));
          const head = [entry.severity, entry.zone, entry.event].filter((part) => part != null).join(" ");
          node.append(element("strong", head + " "));
          node.append(document.createTextNode(entry.message || ""));
          return node;
        }

        function render(status) {
          $("site").textContent = "— " + status.site + (status.dry_run ? " (dry run: nothing is written)" : "");
          $("summary").textContent = status.summary;
          $("zones").replaceChildren(...(status.zones || []).map(tile));
          const devices = status.devices || [];
          $("devices-count").textContent = devices.filter((d) => d.up === true).length + "/" + devices.length + " up";
          $("devices").replaceChildren(...devices.map(device));
        }

        let lastContact = null;
        function link(ok, now) {
          const state = ok ? "live" : lastContact ? "lost" : "connecting";
          document.body.dataset.link = state;
          $("link").dataset.link = state;
          $("link").textContent = ok
            ? "live — daemon time " + localTime(now) + " (updated every second)"
            : lastContact
              ? "NO CONTACT with the daemon since " + lastContact.toLocaleTimeString() + " — this may be out of date"
              : "cannot reach the daemon yet";
        }

        async function getJSON(path) {
          const response = await fetch(path, { cache: "no-store" });
          if (!response.ok) throw new Error(path + " answered " + response.status);
          return response.json();
        }

        async function poll() {
          try {
            const status = await getJSON("/status");
            const siteMs = Date.parse(status.now), atMs = performance.now();
            if (Number.isFinite(clock.siteMs) && atMs > clock.atMs) {
              const rate = (siteMs - clock.siteMs) / (atMs - clock.atMs);
              clock.rate = Number.isFinite(rate) && rate >= 0 && rate < 1e5 ? rate : 1;
            }
            clock.siteMs = siteMs;
            clock.atMs = atMs;
            render(status);
            lastContact = new Date();
            link(true, status.now);
          } catch (error) {
            link(false);
          }
          try {
            const records = await getJSON("/records");
            $("records").replaceChildren(...records.slice(-20).reverse().map(record));
          } catch (error) {
            // The records are kept as they were; the contact line already says when the daemon was last reached.
          }
        }

        async function loop() {
          await poll();
          setTimeout(loop, 1000);
        }
        setInterval(tick, 250);
        loop();
        </script>
        </body>
        </html>
        """#
}
