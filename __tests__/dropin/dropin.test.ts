import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startDemoApi, type DemoApiProcess } from '../helpers/demo-api-process';
import { startNextApp, type NextApp } from '../helpers/next-app';
import { rawRequest, type RawResponse } from '../helpers/servers';

// The package as a user adopts it: `npm pack`, fresh minimal apps in a temporary folder that install
// the tarball (a Pages Router app, an App Router app, and a hybrid: the Pages route for /api with App
// Router pages), the README's files, `next build` (Turbopack, then webpack, and Next 15.5) and
// `next start` against the demo API; then a login, calls through the proxy and server-rendered pages
// with the cookie, over plain HTTP. The README's "Add to an existing … app" sections are these steps.
const ROOT = path.resolve(__dirname, '../..');
const ours = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> };

// "Add to an existing Pages Router app": the catch-all route and a getServerSideProps page, word for word.
const PAGES_ROUTE_FILE = `import { createApiProxy } from 'next-bff-proxy/proxy';
export default createApiProxy();
export const config = { api: { bodyParser: false, externalResolver: true, responseLimit: false } };
`;
const PROFILE_PAGE_FILE = `import type { GetServerSideProps, InferGetServerSidePropsType } from 'next';
import { withSession } from 'next-bff-proxy/pages';

export const getServerSideProps = withSession(async ({ api }) => {
  const { data } = await api.get<{ user: { name: string } }>('/me');
  return { props: { name: data.user.name } };
}) satisfies GetServerSideProps<{ name: string }>;

export default function Profile({ name }: InferGetServerSidePropsType<typeof getServerSideProps>) {
  return <p>Signed in as {name}</p>;
}
`;

// "Add to an existing App Router app": the route handlers, proxy.ts and a server component, word for word.
const APP_ROUTE_FILE = `// app/api/[...path]/route.ts
import { createRouteHandlers } from 'next-bff-proxy/app';

export const { GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS } = createRouteHandlers();
`;
const PROXY_FILE = `// proxy.ts
import { createSessionProxy } from 'next-bff-proxy/app';

export const proxy = createSessionProxy();
export const config = { matcher: ['/((?!api/|api$|_next/static|_next/image|favicon).*)'] };
`;
const DASHBOARD_PAGE_FILE = `// app/dashboard/page.tsx
import { requireSession } from 'next-bff-proxy/app';

export default async function Dashboard() {
  const api = await requireSession({ returnTo: '/dashboard' }); // no session: redirect to /login?next=…
  const { data } = await api.get<{ user: { name: string } }>('/me');
  return <p>Signed in as {data.user.name}</p>;
}
`;
// Every App Router app has a root layout; this is the smallest one.
const LAYOUT_FILE = `import type { ReactNode } from 'react';

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body>{children}</body>
    </html>
  );
}
`;

// The latest Next 15 too, so users on the previous major are served (its default build is webpack), with
// the TypeScript such an app has (Next 15's generated tsconfig predates TypeScript 6).
const NEXT_16 = ours.devDependencies.next ?? '';
const NEXT_15 = '15.5.29';
const typescriptFor = (nextVersion: string) => (nextVersion === NEXT_15 ? '5.9.3' : '6.0.3');

/**
 * proxy.ts is Next 16's name. On Next 15.5 the README has it named `middleware.ts` with `runtime: 'nodejs'`
 * in `config`; Next 15.5 also wants the function exported as `middleware` (or as the default export): with
 * `export const proxy` every request, /api included, answers 500 ("The Middleware "/middleware" must
 * export a `middleware` or a `default` function").
 */
function sessionProxyFile(nextVersion: string): { name: string; text: string } {
  if (nextVersion !== NEXT_15) return { name: 'proxy.ts', text: PROXY_FILE };
  const text = PROXY_FILE.replace('// proxy.ts', '// middleware.ts')
    .replace('export const proxy =', 'export const middleware =')
    .replace("favicon).*)'] }", "favicon).*)'], runtime: 'nodejs' }");
  return { name: 'middleware.ts', text };
}

type Kind = 'Pages Router' | 'App Router' | 'hybrid';

/** The files of each kind of app, by path. */
function appFiles(kind: Kind, nextVersion: string): Record<string, string> {
  const proxy = sessionProxyFile(nextVersion);
  const appPages = { 'app/layout.tsx': LAYOUT_FILE, 'app/dashboard/page.tsx': DASHBOARD_PAGE_FILE, [proxy.name]: proxy.text };
  const pages = { 'pages/api/[...path].ts': PAGES_ROUTE_FILE, 'pages/profile.tsx': PROFILE_PAGE_FILE };
  if (kind === 'Pages Router') return pages;
  if (kind === 'App Router') return { 'app/api/[...path]/route.ts': APP_ROUTE_FILE, ...appPages };
  return { ...pages, ...appPages };
}

let workdir: string;
let tarball: string;
let api: DemoApiProcess;

function run(command: string, args: string[], cwd: string, env: Record<string, string> = {}): string {
  const result = spawnSync(command, args, {
    cwd,
    env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1', ...env },
    encoding: 'utf8',
    timeout: 600_000,
  });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed:\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
}

/** The first app folder of each Next version, where `npm install` ran. */
const installed = new Map<string, string>();

/**
 * A fresh app with the README's files and the packed package installed; its folder. The first app of a
 * Next version runs `npm install`; the others get a hard-linked copy of its node_modules and lockfile
 * (the same tree npm would write, in a second instead of a quarter of a minute).
 */
function createApp(kind: Kind, nextVersion: string): string {
  const appDir = path.join(workdir, `${kind.replace(' ', '-').toLowerCase()}-next-${nextVersion}`);
  mkdirSync(appDir, { recursive: true });
  writeFileSync(
    path.join(appDir, 'package.json'),
    JSON.stringify(
      {
        name: 'dropin-app',
        private: true,
        dependencies: {
          next: nextVersion,
          react: ours.devDependencies.react,
          'react-dom': ours.devDependencies['react-dom'],
          'next-bff-proxy': `file:${tarball}`,
        },
        devDependencies: {
          typescript: typescriptFor(nextVersion),
          '@types/react': ours.devDependencies['@types/react'],
          '@types/node': ours.devDependencies['@types/node'],
        },
      },
      null,
      2,
    ),
  );
  for (const [file, text] of Object.entries(appFiles(kind, nextVersion))) {
    mkdirSync(path.dirname(path.join(appDir, file)), { recursive: true });
    writeFileSync(path.join(appDir, file), text);
  }
  const source = installed.get(nextVersion);
  if (source) {
    copyFileSync(path.join(source, 'package-lock.json'), path.join(appDir, 'package-lock.json'));
    run('cp', ['-al', path.join(source, 'node_modules'), path.join(appDir, 'node_modules')], appDir);
  } else {
    run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline'], appDir);
    installed.set(nextVersion, appDir);
  }
  return appDir;
}

beforeAll(async () => {
  workdir = mkdtempSync(path.join(os.tmpdir(), 'bff-dropin-'));
  // npm pack runs `prepack` (npm run build:lib), so the tarball carries a fresh dist/.
  const packed = JSON.parse(
    execFileSync('npm', ['pack', '--json', '--pack-destination', workdir], { cwd: ROOT, encoding: 'utf8' }),
  ) as Array<{ filename: string; files: Array<{ path: string }> }>;
  tarball = path.join(workdir, packed[0]?.filename ?? '');
  const shipped = packed[0]?.files.map((file) => file.path) ?? [];
  expect(
    shipped.filter(
      (file) =>
        !/^(dist\/(proxy|server-lib|app-router|pages-router|session-store)\/|README\.md$|SECURITY\.md$|LICENSE$|package\.json$)/.test(file),
    ),
  ).toEqual([]);
  expect(shipped).toEqual(
    expect.arrayContaining([
      'dist/proxy/index.js',
      'dist/server-lib/index.js',
      'dist/app-router/index.js',
      'dist/app-router/index.d.ts',
      'dist/pages-router/index.js',
      'dist/pages-router/index.d.ts',
      'dist/session-store/redis-store.js',
    ]),
  );
  api = await startDemoApi();
}, 600_000);

afterAll(async () => {
  await api?.stop();
  if (workdir) rmSync(workdir, { recursive: true, force: true });
});

const COOKIE_LINE = /^(auth-token|refresh-token)=([\w-]+\.[\w-]+\.[\w-]+); Path=\/; HttpOnly; SameSite=Lax; Max-Age=\d+$/;

/** The values of the response's auth-token and refresh-token cookies, and the Cookie header they make. */
function sessionCookies(res: RawResponse): { access: string; refresh: string; cookie: string } {
  const setCookie = res.headers['set-cookie'] ?? [];
  const value = (name: string) => setCookie.map((line) => COOKIE_LINE.exec(line)).find((match) => match?.[1] === name)?.[2] ?? '<none>';
  return { access: value('auth-token'), refresh: value('refresh-token'), cookie: setCookie.map((line) => line.split(';')[0]).join('; ') };
}

async function logIn(app: NextApp): Promise<RawResponse> {
  return rawRequest(
    app.url,
    'POST',
    '/api/login',
    { 'content-type': 'application/json', origin: app.url },
    JSON.stringify({ email: 'ada@example.com', password: 'lovelace' }),
  );
}

const apps = new Map<string, string>();

// Each kind of app is installed once per Next version and built in place by each bundler in turn.
const builds = [
  [NEXT_16, 'Turbopack', []],
  [NEXT_16, 'webpack', ['--webpack']],
  [NEXT_15, 'webpack', []],
] as const;
const kinds: Array<{ kind: Kind; route: string }> = [
  { kind: 'Pages Router', route: 'pages/api/[...path].ts' },
  { kind: 'App Router', route: 'app/api/[...path]/route.ts' },
  { kind: 'hybrid', route: 'pages/api/[...path].ts' },
];
const table = builds.flatMap(([nextVersion, bundler, buildFlags]) =>
  kinds.map(({ kind, route }) => ({ kind, route, nextVersion, bundler, buildFlags: [...buildFlags] })),
);

describe.each(table)(
  'the package in a fresh $kind app on Next $nextVersion built with $bundler',
  ({ kind, route, nextVersion, bundler, buildFlags }) => {
    // The Pages Router app and the hybrid have the getServerSideProps page; the App Router app and the hybrid the server component.
    const hasProfile = kind !== 'App Router';
    const hasDashboard = kind !== 'Pages Router';
    let app: NextApp;

    beforeAll(async () => {
      const appDir = apps.get(`${kind} ${nextVersion}`) ?? createApp(kind, nextVersion);
      apps.set(`${kind} ${nextVersion}`, appDir);
      run(process.execPath, [path.join(appDir, 'node_modules/next/dist/bin/next'), 'build', ...buildFlags], appDir);
      app = await startNextApp('.next', { API_URL: api.url }, appDir);
    }, 600_000);
    afterAll(() => app?.stop());

    let cookie = '';

    it(`logs in through ${route}: 200, HttpOnly auth-token and refresh-token cookies, the user in the body and no token`, async () => {
      const res = await logIn(app);
      expect(res.status).toBe(200);
      const setCookie = res.headers['set-cookie'] ?? [];
      expect(setCookie).toHaveLength(2);
      expect(setCookie[0]).toMatch(/^auth-token=[\w-]+\.[\w-]+\.[\w-]+; Path=\/; HttpOnly; SameSite=Lax; Max-Age=\d+$/);
      expect(setCookie[1]).toMatch(/^refresh-token=[\w-]+\.[\w-]+\.[\w-]+; Path=\/; HttpOnly; SameSite=Lax; Max-Age=\d+$/);
      const session = sessionCookies(res);
      expect(res.body.toString()).not.toContain(session.access);
      expect(res.body.toString()).not.toContain(session.refresh);
      expect(JSON.parse(res.body.toString())).toEqual({ user: { id: 'u1', email: 'ada@example.com', name: 'Ada Lovelace' } });
      cookie = session.cookie;
    });

    it(`adds an item (201) and lists it (200) through ${route} with the cookie`, async () => {
      const title = `from the ${kind} app on Next ${nextVersion} (${bundler})`;
      const added = await rawRequest(
        app.url,
        'POST',
        '/api/items',
        { 'content-type': 'application/json', origin: app.url, cookie },
        JSON.stringify({ title }),
      );
      expect(added.status).toBe(201);
      const { item } = JSON.parse(added.body.toString()) as { item: { id: string; title: string } };
      expect(item.title).toBe(title);
      const list = await rawRequest(app.url, 'GET', '/api/items', { cookie });
      expect(list.status).toBe(200);
      expect(list.headers['content-type']).toBe('application/json; charset=utf-8');
      expect((JSON.parse(list.body.toString()) as { items: Array<{ id: string; title: string }> }).items).toContainEqual(
        expect.objectContaining({ id: item.id, title }),
      );
    });

    if (hasProfile)
      it('renders the getServerSideProps page /profile with the cookie (200), and redirects (307) to /login?next=%2Fprofile without it', async () => {
        const page = await rawRequest(app.url, 'GET', '/profile', { cookie });
        expect(page.status).toBe(200);
        expect(page.body.toString()).toMatch(/Signed in as (<!-- -->)?Ada Lovelace/);
        const anonymous = await rawRequest(app.url, 'GET', '/profile');
        expect(anonymous.status).toBe(307);
        expect(anonymous.headers.location).toBe('/login?next=%2Fprofile');
      });

    if (hasDashboard)
      it('renders the server component /dashboard with the cookie (200, the name, no token in the HTML), and redirects (307) to /login?next=%2Fdashboard without it', async () => {
        const page = await rawRequest(app.url, 'GET', '/dashboard', { cookie });
        expect(page.status).toBe(200);
        expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
        const html = page.body.toString();
        expect(html).toMatch(/<p>Signed in as (<!-- -->)?Ada Lovelace<\/p>/);
        for (const part of cookie.split('; ')) expect(html).not.toContain(part.slice(part.indexOf('=') + 1));
        const anonymous = await rawRequest(app.url, 'GET', '/dashboard');
        expect(anonymous.status).toBe(307);
        expect(anonymous.headers.location).toBe('/login?next=%2Fdashboard');
      });

    if (hasDashboard)
      it(`refreshes in ${sessionProxyFile(nextVersion).name} before the render: /dashboard with only the refresh cookie answers 200, the name and two new HttpOnly cookies, no token in the HTML`, async () => {
        const login = sessionCookies(await logIn(app));
        const page = await rawRequest(app.url, 'GET', '/dashboard', { cookie: `refresh-token=${login.refresh}` });
        expect(page.status).toBe(200);
        const renewed = sessionCookies(page);
        expect(page.headers['set-cookie'] ?? []).toHaveLength(2);
        expect(renewed.access).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
        expect(renewed.refresh).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
        expect(renewed.refresh).not.toBe(login.refresh);
        const html = page.body.toString();
        expect(html).toMatch(/<p>Signed in as (<!-- -->)?Ada Lovelace<\/p>/);
        for (const token of [login.refresh, renewed.access, renewed.refresh]) expect(html).not.toContain(token);
      });
  },
);
