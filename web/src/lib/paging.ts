// Cursor paging: the API gives each page the opaque cursor of the next one; going back needs
// the cursors of the pages already seen. A small reducer keeps them.

export type Cursor = string | null;

export interface CursorPaging {
  /** cursors[i] fetches page i (page 0 has none). */
  cursors: Cursor[];
  /** The page shown. */
  index: number;
  /** The cursor of the page after the shown one, as the last answer gave it (null: last page). */
  next: Cursor;
}

export type PagingAction =
  { type: 'loaded'; nextCursor: string | number | null } | { type: 'next' } | { type: 'prev' } | { type: 'reset' };

export const firstPage: CursorPaging = { cursors: [null], index: 0, next: null };

export function pagingReducer(state: CursorPaging, action: PagingAction): CursorPaging {
  switch (action.type) {
    case 'loaded': {
      const next = action.nextCursor === null ? null : String(action.nextCursor);
      return next === state.next ? state : { ...state, next };
    }
    case 'next': {
      if (state.next === null) return state;
      const cursors = state.cursors.slice(0, state.index + 1);
      cursors.push(state.next);
      return { cursors, index: state.index + 1, next: null };
    }
    case 'prev':
      if (state.index === 0) return state;
      return { ...state, index: state.index - 1, next: state.cursors[state.index] ?? null };
    case 'reset':
      return firstPage;
  }
}

export function currentCursor(state: CursorPaging): Cursor {
  return state.cursors[state.index] ?? null;
}

export function hasPrev(state: CursorPaging): boolean {
  return state.index > 0;
}

export function hasNext(state: CursorPaging): boolean {
  return state.next !== null;
}

/** "101–200 of 1,234" for page ``index`` of ``size`` rows showing ``shown`` of ``total``. */
export function pageRange(index: number, size: number, shown: number, total: number): string {
  if (total === 0 || shown === 0) return `0 of ${total.toLocaleString('en-US')}`;
  const first = index * size + 1;
  const last = index * size + shown;
  return `${first.toLocaleString('en-US')}–${last.toLocaleString('en-US')} of ${total.toLocaleString('en-US')}`;
}
