// The app shell: header, the API-unavailable banner, and the page of the current route.
import { Link } from './components/Link';
import { Empty, OutageBanner } from './components/States';
import { matchRoute, useLocation } from './lib/router';
import { ComparePage } from './pages/ComparePage';
import { EpisodePage } from './pages/EpisodePage';
import { GroupPage } from './pages/GroupPage';
import { GroupsComparePage } from './pages/GroupsComparePage';
import { GroupsPage } from './pages/GroupsPage';
import { RunPage } from './pages/RunPage';
import { RunsPage } from './pages/RunsPage';
import { SweepPage } from './pages/SweepPage';

const GROUP_PAGES = new Set(['groups', 'group', 'groups-compare', 'sweep']);

export function App() {
  const { pathname, search } = useLocation();
  const route = matchRoute(pathname, search);
  return (
    <div className="app">
      <header className="topbar">
        <Link href="/" className="brand">
          <svg width="20" height="20" viewBox="0 0 16 16" aria-hidden="true">
            <rect width="16" height="16" rx="3" fill="#2563eb" />
            <path d="M3 12l3-4 3 2 4-6" stroke="white" strokeWidth="1.8" fill="none" />
          </svg>
          rltrack
        </Link>
        <nav className="topnav">
          <Link href="/" className={route.page === 'runs' ? 'active' : undefined}>
            Runs
          </Link>
          <Link href="/groups" className={GROUP_PAGES.has(route.page) ? 'active' : undefined}>
            Groups
          </Link>
          <a href="/docs" target="_blank" rel="noreferrer">
            API
          </a>
        </nav>
      </header>
      <OutageBanner />
      <main className="main">
        {route.page === 'runs' && <RunsPage search={search} />}
        {route.page === 'run' && <RunPage key={route.runId} runId={route.runId} />}
        {route.page === 'episode' && <EpisodePage key={route.episodeId} episodeId={route.episodeId} />}
        {route.page === 'compare' && <ComparePage key={route.runIds.join(',')} runIds={route.runIds} />}
        {route.page === 'groups' && <GroupsPage />}
        {route.page === 'group' && <GroupPage key={route.groupId} groupId={route.groupId} search={search} />}
        {route.page === 'groups-compare' && (
          <GroupsComparePage key={route.groupIds.join(',')} groupIds={route.groupIds} search={search} />
        )}
        {route.page === 'sweep' && <SweepPage key={route.groupId} groupId={route.groupId} />}
        {route.page === 'not-found' && (
          <Empty title="No such page">
            <Link href="/">Go to the runs</Link>
          </Empty>
        )}
      </main>
    </div>
  );
}
