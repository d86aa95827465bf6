// The live tail's connection: one GET event stream for the current filters, events handed to the
// reducer in small batches (a burst of hundreds a second is one render, not hundreds), and a
// reconnect after the server or the network ends the stream. A 4xx (a bad filter, an app the
// user may not read) is not retried: it is shown, and the user changes the filters.

import { useEffect, useRef, useState } from "react";

import { ApiError, getSse } from "../../api/client";
import { parseLiveEvent, type LiveAction, type LiveEvent } from "../../lib/live";

export type TailStatus = "off" | "listening" | "reconnecting" | "failed";

const FLUSH_MS = 200;
const RETRY_MS = 3000;

export function useLiveTail(
  path: string | null,
  dispatch: (action: LiveAction) => void,
): { status: TailStatus; error: unknown } {
  const [status, setStatus] = useState<TailStatus>("off");
  const [error, setError] = useState<unknown>(null);
  const queue = useRef<LiveEvent[]>([]);
  const dispatchRef = useRef(dispatch);
  dispatchRef.current = dispatch;

  useEffect(() => {
    const flush = window.setInterval(() => {
      if (queue.current.length === 0) return;
      const events = queue.current;
      queue.current = [];
      dispatchRef.current({ type: "events", events });
    }, FLUSH_MS);
    return () => window.clearInterval(flush);
  }, []);

  useEffect(() => {
    if (path === null) {
      setStatus("off");
      return;
    }
    const controller = new AbortController();
    let retry: number | undefined;
    const connect = (): void => {
      setStatus("listening");
      dispatchRef.current({ type: "connected" });
      getSse(
        path,
        (event, data) => {
          if (event === "event") {
            const parsed = parseLiveEvent(data);
            if (parsed !== null) queue.current.push(parsed);
          } else if (event === "dropped" && typeof data === "object" && data !== null) {
            const total = (data as { dropped?: unknown }).dropped;
            if (typeof total === "number") dispatchRef.current({ type: "dropped", total });
          }
        },
        controller.signal,
      )
        .then(() => {
          if (controller.signal.aborted) return;
          setStatus("reconnecting");
          retry = window.setTimeout(connect, RETRY_MS);
        })
        .catch((e: unknown) => {
          if (controller.signal.aborted) return;
          setError(e);
          if (e instanceof ApiError && e.status >= 400 && e.status < 500) {
            setStatus("failed");
            return;
          }
          setStatus("reconnecting");
          retry = window.setTimeout(() => {
            setError(null);
            connect();
          }, RETRY_MS);
        });
    };
    setError(null);
    connect();
    return () => {
      controller.abort();
      window.clearTimeout(retry);
    };
  }, [path]);

  return { status, error };
}
