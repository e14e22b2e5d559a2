// Live values, coalesced: however many events arrive, the view renders at most once per
// `interval` ms (and only in an animation frame), always with the newest value.
import { useEffect, useState } from "preact/hooks";
import { subscribe } from "./api.js";

export const RENDER_INTERVAL = 250; // ms: at most 4 renders a second per live view

/** push(value) keeps the newest value; flush(value) runs at most once per interval. */
export function coalesce(flush, interval = RENDER_INTERVAL) {
  let pending = false;
  let latest;
  let last = 0;
  let timer = null;
  const run = () => {
    timer = null;
    requestAnimationFrame(() => {
      last = performance.now();
      pending = false;
      flush(latest);
    });
  };
  const push = (value) => {
    latest = value;
    if (pending) return;
    pending = true;
    timer = setTimeout(run, Math.max(0, last + interval - performance.now()));
  };
  push.cancel = () => timer && clearTimeout(timer);
  return push;
}

/** The newest result of a subscription (null until the first event), re-rendered coalesced. */
export function useLive(query, variables, key) {
  const [state, setState] = useState({ data: null, error: null, done: false });
  useEffect(() => {
    setState({ data: null, error: null, done: false });
    const push = coalesce((data) => setState((s) => ({ ...s, data })));
    const stop = subscribe(query, variables, {
      next: push,
      error: (error) => setState((s) => ({ ...s, error })),
      complete: () => setState((s) => ({ ...s, done: true })),
    });
    return () => {
      push.cancel();
      stop();
    };
  }, [key]);
  return state;
}
