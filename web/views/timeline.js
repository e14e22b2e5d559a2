// Delivery over time (sent, failed, retried per bucket) with uPlot, refetched at most every
// few seconds while counts change: one grouped query, never a row per message.
import { useEffect, useRef, useState } from "preact/hooks";
import uPlot from "uplot";
import { ApiError, gql } from "../api.js";
import { html } from "../format.js";

const TIMELINE = `query($id: ID!, $bucket: TimelineBucket!, $from: DateTime) {
  mailing(id: $id) { timeline(bucket: $bucket, from: $from) { start sent failed retried } } }`;
const REFETCH = 2000; // ms between two timeline queries
const MAX_BUCKETS = 480; // hours shown when even HOUR buckets would pass the API's 500

const BUCKETS = ["SECOND", "MINUTE", "HOUR"];
const STEP = { SECOND: 1, MINUTE: 60, HOUR: 3600 };

/** At least `span` seconds on the time axis, so a mailing sent within a second is readable. */
function widen(min, max, span) {
  if (max - min >= span) return [min, max];
  const pad = (span - (max - min)) / 2;
  return [min - pad, max + pad];
}

/** The timeline with the smallest bucket that fits the API's 500 buckets (tried in order from
 * `first`: a finished mailing's range ends at its finish, which only the server knows). */
export async function fetchTimeline(id, first = "SECOND") {
  for (const bucket of BUCKETS.slice(BUCKETS.indexOf(first))) {
    try {
      const d = await gql(TIMELINE, { id, bucket, from: null });
      return { bucket, points: d.mailing.timeline };
    } catch (e) {
      if (!(e instanceof ApiError && e.byField().bucket !== undefined)) throw e;
    }
  }
  const from = new Date(Date.now() - MAX_BUCKETS * 3600_000).toISOString();
  const d = await gql(TIMELINE, { id, bucket: "HOUR", from });
  return { bucket: "HOUR", points: d.mailing.timeline };
}

function summary(points, bucket) {
  const sum = (key) => points.reduce((n, p) => n + p[key], 0);
  return `Per ${bucket.toLowerCase()}: ${sum("sent")} sent, ${sum("failed")} failed, ${sum("retried")} retried in the range`;
}

export function Timeline({ id, state, tick }) {
  const box = useRef(null);
  const plot = useRef(null);
  const last = useRef(0);
  const bucketRef = useRef("SECOND");
  const alive = useRef(true);
  const [points, setPoints] = useState(null);
  const [bucket, setBucket] = useState("SECOND");
  const [error, setError] = useState(null);

  useEffect(() => {
    const load = async () => {
      last.current = performance.now();
      try {
        const got = await fetchTimeline(id, bucketRef.current);
        bucketRef.current = got.bucket; // a running mailing's range only grows
        if (alive.current) (setBucket(got.bucket), setPoints(got.points), setError(null));
      } catch (e) {
        if (alive.current) setError(e);
      }
    };
    // Every new count re-arms the timer; it fires REFETCH after the previous query at most.
    const timer = setTimeout(load, Math.max(0, last.current + REFETCH - performance.now()));
    return () => clearTimeout(timer);
  }, [id, state, tick]);

  useEffect(() => {
    if (!points?.length || !box.current) return;
    const data = [
      points.map((p) => new Date(p.start).getTime() / 1000),
      points.map((p) => p.sent),
      points.map((p) => p.failed),
      points.map((p) => p.retried),
    ];
    if (plot.current) {
      plot.current.setData(data);
      return;
    }
    const width = () => Math.max(280, box.current?.clientWidth ?? 0);
    plot.current = new uPlot(
      {
        width: width(),
        height: 220,
        scales: {
          // from the data itself: for a single point uPlot proposes a day, in milliseconds
          x: { time: true, range: (u) => widen(u.data[0][0], u.data[0].at(-1), 30 * STEP[bucketRef.current]) },
          y: { range: (u, min, max) => [0, Math.max(5, max * 1.1)] },
        },
        series: [
          {},
          { label: "Sent", stroke: "#1b7f3b", width: 2, points: { size: 6 } },
          { label: "Failed", stroke: "#b3261e", width: 2, points: { size: 6 } },
          { label: "Retried", stroke: "#b35c00", width: 2, points: { size: 6 } },
        ],
        axes: [{}, { label: `messages per ${bucket.toLowerCase()}` }],
      },
      data,
      box.current,
    );
  }, [points]);
  useEffect(() => {
    const resize = new ResizeObserver(() => {
      // A callback may still come while the page unmounts (the ref is cleared first).
      if (plot.current && box.current) plot.current.setSize({ width: Math.max(280, box.current.clientWidth), height: 220 });
    });
    resize.observe(box.current);
    return () => {
      alive.current = false;
      resize.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
  }, []);

  return html`<section class="card" aria-labelledby="chart-h">
    <h2 id="chart-h">Delivery over time <small class="muted">(per ${bucket.toLowerCase()}, your time zone)</small></h2>
    ${error && html`<p class="error" role="alert">${error.message}</p>`}
    ${points && !points.length && html`<p class="muted">Nothing yet: the chart starts when the mailing does.</p>`}
    <div class="chart" ref=${box} role="img" aria-label=${points ? summary(points, bucket) : "Loading the chart"}></div>
  </section>`;
}
