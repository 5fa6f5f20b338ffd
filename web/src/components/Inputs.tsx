// Form controls: a text input that reports after the user pauses typing, and a pager.
import { useEffect, useRef, useState } from 'react';

export function DebouncedInput({
  value,
  onChange,
  delayMs = 300,
  ...rest
}: {
  value: string;
  onChange: (value: string) => void;
  delayMs?: number;
  placeholder?: string;
  'aria-label'?: string;
  type?: string;
  className?: string;
  name?: string;
  list?: string;
}) {
  const [text, setText] = useState(value);
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const report = useRef(onChange);
  report.current = onChange;

  useEffect(() => setText(value), [value]);
  useEffect(
    () => () => {
      if (timer.current !== null) clearTimeout(timer.current);
    },
    [],
  );

  return (
    <input
      {...rest}
      type={rest.type ?? 'text'}
      value={text}
      onChange={(event) => {
        const next = event.target.value;
        setText(next);
        if (timer.current !== null) clearTimeout(timer.current);
        timer.current = setTimeout(() => report.current(next.trim()), delayMs);
      }}
      onKeyDown={(event) => {
        if (event.key === 'Enter') {
          if (timer.current !== null) clearTimeout(timer.current);
          report.current(text.trim());
        }
      }}
    />
  );
}

export function Pager({
  label,
  canPrev,
  canNext,
  onPrev,
  onNext,
  busy,
  children,
}: {
  label: string;
  canPrev: boolean;
  canNext: boolean;
  onPrev: () => void;
  onNext: () => void;
  busy?: boolean;
  children?: React.ReactNode;
}) {
  return (
    <div className="pager" aria-busy={busy}>
      <span className="pager-label" data-testid="pager-label">
        {label}
      </span>
      {children}
      <button type="button" className="btn btn-small" onClick={onPrev} disabled={!canPrev} aria-label="Previous page">
        ‹ Prev
      </button>
      <button type="button" className="btn btn-small" onClick={onNext} disabled={!canNext} aria-label="Next page">
        Next ›
      </button>
    </div>
  );
}
