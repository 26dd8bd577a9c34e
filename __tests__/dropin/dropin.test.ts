import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startDemoApi, type DemoApiProcess } from '../helpers/demo-api-process';
import { startNextApp, type NextApp } from '../helpers/next-app';
import { rawRequest } from '../helpers/servers';

// The package as a user adopts it: `npm pack`, a fresh minimal Pages Router app in a temporary folder
// that installs the tarball, the README's two files, `next build` (Turbopack, then webpack) and
// `next start` against the demo API; then a login, calls through the proxy and a server-rendered page
// with the cookie, over plain HTTP. The README's "Add to an existing app" section is these steps.
const ROOT = path.resolve(__dirname, '../..');
const ours = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> };

// The two files the README asks for, word for word.
const ROUTE_FILE = `import { createApiProxy } from 'next-bff-proxy/proxy';
export default createApiProxy();
export const config = { api: { bodyParser: false, externalResolver: true, responseLimit: false } };
`;
const PAGE_FILE = `import type { GetServerSideProps, InferGetServerSidePropsType } from 'next';
import { withSession } from 'next-bff-proxy/server-lib';

export const getServerSideProps = withSession(async ({ api }) => {
  const { data } = await api.get<{ user: { name: string } }>('/me');
  return { props: { name: data.user.name } };
}) satisfies GetServerSideProps<{ name: string }>;

export default function Profile({ name }: InferGetServerSidePropsType<typeof getServerSideProps>) {
  return <p>Signed in as {name}</p>;
}
`;

// The latest Next 15 too, so users on the previous major are served (its default build is webpack), with
// the TypeScript such an app has (Next 15's generated tsconfig predates TypeScript 6).
const NEXT_15 = '15.5.29';
const typescriptFor = (nextVersion: string) => (nextVersion === NEXT_15 ? '5.9.3' : '6.0.3');

let workdir: string;
let tarball: string;
let api: DemoApiProcess;

function run(command: string, args: string[], cwd: string, env: Record<string, string> = {}): string {
  const result = spawnSync(command, args, { cwd, env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1', ...env }, encoding: 'utf8', timeout: 600_000 });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed:\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
}

/** A fresh app with the README's two files and the packed package installed; its folder. */
function createApp(nextVersion: string): string {
  const appDir = path.join(workdir, `app-next-${nextVersion}`);
  mkdirSync(path.join(appDir, 'pages/api'), { recursive: true });
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
        devDependencies: { typescript: typescriptFor(nextVersion), '@types/react': ours.devDependencies['@types/react'], '@types/node': ours.devDependencies['@types/node'] },
      },
      null,
      2,
    ),
  );
  writeFileSync(path.join(appDir, 'pages/api/[...path].ts'), ROUTE_FILE);
  writeFileSync(path.join(appDir, 'pages/profile.tsx'), PAGE_FILE);
  run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline'], appDir);
  return appDir;
}

beforeAll(async () => {
  workdir = mkdtempSync(path.join(os.tmpdir(), 'bff-dropin-'));
  // npm pack runs `prepack` (npm run build:lib), so the tarball carries a fresh dist/.
  const packed = JSON.parse(execFileSync('npm', ['pack', '--json', '--pack-destination', workdir], { cwd: ROOT, encoding: 'utf8' })) as Array<{ filename: string; files: Array<{ path: string }> }>;
  tarball = path.join(workdir, packed[0]?.filename ?? '');
  const shipped = packed[0]?.files.map((file) => file.path) ?? [];
  expect(shipped.filter((file) => !/^(dist\/(proxy|server-lib)\/|README\.md$|SECURITY\.md$|LICENSE$|package\.json$)/.test(file))).toEqual([]);
  api = await startDemoApi();
}, 600_000);

afterAll(async () => {
  await api?.stop();
  if (workdir) rmSync(workdir, { recursive: true, force: true });
});

const apps = new Map<string, string>();

describe.each([
  [ours.devDependencies.next, 'Turbopack', []],
  [ours.devDependencies.next, 'webpack', ['--webpack']],
  [NEXT_15, 'webpack', []],
])('the package in a fresh app on Next %s built with %s', (nextVersion, _bundler, buildFlags) => {
  let app: NextApp;

  beforeAll(async () => {
    const appDir = apps.get(nextVersion as string) ?? createApp(nextVersion as string);
    apps.set(nextVersion as string, appDir);
    run(process.execPath, [path.join(appDir, 'node_modules/next/dist/bin/next'), 'build', ...(buildFlags as string[])], appDir);
    app = await startNextApp('.next', { API_URL: api.url }, appDir);
  }, 600_000);
  afterAll(() => app?.stop());

  let cookie = '';

  it('logs in through the proxy: an HttpOnly cookie, and no token in the body', async () => {
    const res = await rawRequest(app.url, 'POST', '/api/login', { 'content-type': 'application/json', origin: app.url }, JSON.stringify({ email: 'ada@example.com', password: 'lovelace' }));
    expect(res.status).toBe(200);
    const setCookie = res.headers['set-cookie'] ?? [];
    expect(setCookie[0]).toMatch(/^auth-token=[\w-]+\.[\w-]+\.[\w-]+; Path=\/; HttpOnly; SameSite=Lax; Max-Age=\d+$/);
    const token = /^auth-token=([^;]+)/.exec(setCookie[0] ?? '')?.[1] ?? '<none>';
    expect(res.body.toString()).not.toContain(token);
    expect(JSON.parse(res.body.toString())).toEqual({ user: { id: 'u1', email: 'ada@example.com', name: 'Ada Lovelace' } });
    cookie = setCookie.map((value) => value.split(';')[0]).join('; ');
  });

  it('fetches and adds items through the proxy with the cookie', async () => {
    const added = await rawRequest(app.url, 'POST', '/api/items', { 'content-type': 'application/json', origin: app.url, cookie }, '{"title":"from the drop-in app"}');
    expect(added.status).toBe(201);
    const list = await rawRequest(app.url, 'GET', '/api/items', { cookie });
    expect(list.status).toBe(200);
    expect(JSON.parse(list.body.toString()).items.map((item: { title: string }) => item.title)).toContain('from the drop-in app');
  });

  it('renders the getServerSideProps page with the cookie, and redirects without it', async () => {
    const page = await rawRequest(app.url, 'GET', '/profile', { cookie });
    expect(page.status).toBe(200);
    expect(page.body.toString()).toMatch(/Signed in as (<!-- -->)?Ada Lovelace/);
    const anonymous = await rawRequest(app.url, 'GET', '/profile');
    expect(anonymous.status).toBe(307);
    expect(anonymous.headers.location).toBe('/login?next=%2Fprofile');
  });
});
