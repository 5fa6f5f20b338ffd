// Loading state of one API GET: data, error, loading; retries while the API is unavailable
// (503 or no connection), honouring Retry-After; ``reload`` refetches and keeps what is shown.
import { useCallback, useEffect, useId, useRef, useState } from 'react';
import { ApiError, getJson, isAbort, retryDelayMs } from '../api/client';
import { reportOutage, reportRecovered } from '../lib/connectivity';

export interface ApiState<T> {
  data: T | null;
  headers: Headers | null;
  /** A final error (404, 422, ...). Unavailability is retried, not shown here. */
  error: ApiError | null;
  /** A request is in flight (the first or a refresh). */
  loading: boolean;
  /** The URL whose answer ``data`` is; differs from the current one while it loads. */
  loadedUrl: string | null;
  reload: () => void;
}

export function useApi<T>(url: string | null): ApiState<T> {
  const [data, setData] = useState<T | null>(null);
  const [headers, setHeaders] = useState<Headers | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [loading, setLoading] = useState(url !== null);
  const [loadedUrl, setLoadedUrl] = useState<string | null>(null);
  const [nonce, setNonce] = useState(0);
  const retryTimer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const source = useId();

  useEffect(() => {
    if (url === null) {
      reportRecovered(source);
      setLoading(false);
      return undefined;
    }
    const controller = new AbortController();
    setLoading(true);
    getJson<T>(url, controller.signal)
      .then((answer) => {
        if (controller.signal.aborted) return;
        reportRecovered(source);
        setData(answer.data);
        setHeaders(answer.headers);
        setLoadedUrl(url);
        setError(null);
        setLoading(false);
      })
      .catch((err: unknown) => {
        if (controller.signal.aborted || isAbort(err)) return;
        const apiError =
          err instanceof ApiError ? err : new ApiError(0, err instanceof Error ? err.message : String(err));
        if (apiError.unavailable) {
          const delay = retryDelayMs(apiError);
          reportOutage(source, {
            message:
              apiError.status === 0
                ? 'The rltrack server cannot be reached.'
                : `The server cannot read its database: ${apiError.detail}`,
            retryAt: Date.now() + delay,
          });
          retryTimer.current = setTimeout(() => setNonce((n) => n + 1), delay);
          return; // still loading: the retry will answer
        }
        setError(apiError);
        setLoading(false);
      });
    return () => {
      controller.abort();
      if (retryTimer.current !== null) clearTimeout(retryTimer.current);
      retryTimer.current = null;
    };
  }, [url, nonce, source]);

  // A page that goes away stops counting as unavailable.
  useEffect(() => () => reportRecovered(source), [source]);

  const reload = useCallback(() => setNonce((n) => n + 1), []);
  return { data, headers, error, loading, loadedUrl, reload };
}
