// Loading, empty and error states, and the banner shown while the API is unavailable.
import type { ReactNode } from 'react';
import type { ApiError } from '../api/client';
import { useNow } from '../hooks/useNow';
import { useOutage } from '../lib/connectivity';
import { Link } from './Link';

export function Loading({ label = 'Loading…' }: { label?: string }) {
  return (
    <div className="state state-loading" role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" />
      {label}
    </div>
  );
}

export function Empty({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="state state-empty">
      <div className="state-title">{title}</div>
      {children && <div className="state-body">{children}</div>}
    </div>
  );
}

export function ErrorState({ error, what }: { error: ApiError; what: string }) {
  return (
    <div className="state state-error" role="alert">
      <div className="state-title">
        {error.notFound ? `${what} not found` : `Could not load the ${what.toLowerCase()}`}
      </div>
      <div className="state-body">
        {error.detail}
        {error.notFound && (
          <>
            {' '}
            <Link href="/">Back to the runs</Link>
          </>
        )}
      </div>
    </div>
  );
}

export function OutageBanner() {
  const outage = useOutage();
  const now = useNow(outage !== null, 500);
  if (outage === null) return null;
  const seconds = Math.max(0, Math.ceil((outage.retryAt - now) / 1000));
  return (
    <div className="banner banner-outage" role="alert" data-testid="outage-banner">
      <strong>Unavailable.</strong> {outage.message} {seconds > 0 ? `Retrying in ${seconds} s…` : 'Retrying…'}
    </div>
  );
}
