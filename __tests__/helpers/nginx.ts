import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { freePort, stopChild } from './next-app';

/** A Debian package's program, or a clear message naming the package to install. */
export function requireProgram(program: string, args: string[], debianPackage: string): void {
  const found = spawnSync(program, args, { encoding: 'utf8' });
  if (found.error || found.status !== 0)
    throw new Error(`${program} is not installed: these tests need it (apt-get install -y ${debianPackage})`);
}

/** A self-signed certificate for 127.0.0.1 and localhost, made with openssl in `dir`: `{ cert, key }` paths and the PEM to trust. */
export function makeCertificate(dir: string): { cert: string; key: string; pem: string } {
  requireProgram('openssl', ['version'], 'openssl');
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  const made = spawnSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '1',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
    ],
    { encoding: 'utf8' },
  );
  if (made.status !== 0) throw new Error(`openssl could not make a certificate:\n${made.stderr}`);
  return { cert, key, pem: readFileSync(cert, 'utf8') };
}

/**
 * The nginx configuration of README's "Several instances": TLS terminated here, round-robin over the
 * app's instances, the forwarding headers set by nginx (never passed through from the client), and
 * bodies streamed both ways (no buffering: event streams and uploads pass as they come).
 */
export function nginxConfig({
  dir,
  port,
  instances,
  cert,
  key,
}: {
  dir: string;
  port: number;
  instances: string[];
  cert: string;
  key: string;
}): string {
  return `worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 512; }
http {
  log_format upstream '$request_method $request_uri $status $upstream_addr';
  access_log ${dir}/access.log upstream;
  client_body_temp_path ${dir}/tmp/body;
  proxy_temp_path ${dir}/tmp/proxy;
  fastcgi_temp_path ${dir}/tmp/fastcgi;
  uwsgi_temp_path ${dir}/tmp/uwsgi;
  scgi_temp_path ${dir}/tmp/scgi;

  upstream next_app {
${instances.map((address) => `    server ${address};`).join('\n')}
    keepalive 32;
  }

  server {
    listen 127.0.0.1:${port} ssl;
    ssl_certificate ${cert};
    ssl_certificate_key ${key};

    location / {
      proxy_pass http://next_app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-Host $http_host;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-For $remote_addr;
      proxy_buffering off;
      proxy_request_buffering off;
    }
  }
}
`;
}

export interface NginxProcess {
  url: string;
  /** One line per request: method, URI, status, and the instance that served it. */
  accessLog(): string[];
  stop(): Promise<void>;
}

/** Debian's nginx in the foreground, with `nginxConfig`, on 127.0.0.1 and a free port. */
export async function startNginx(dir: string, instances: string[], certificate: { cert: string; key: string }): Promise<NginxProcess> {
  requireProgram('nginx', ['-v'], 'nginx');
  for (const sub of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) {
    mkdirSync(path.join(dir, 'tmp', sub), { recursive: true });
    // nginx's workers run as an unprivileged user when started as root.
    chmodSync(path.join(dir, 'tmp', sub), 0o777);
  }
  chmodSync(path.join(dir, 'tmp'), 0o777);
  const port = await freePort();
  const conf = path.join(dir, 'nginx.conf');
  writeFileSync(conf, nginxConfig({ dir, port, instances, ...certificate }));
  writeFileSync(path.join(dir, 'access.log'), '');
  const child: ChildProcess = spawn('nginx', ['-p', dir, '-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const deadline = Date.now() + 10_000;
  for (;;) {
    const probe = spawnSync(process.execPath, [
      '-e',
      `require('net').connect(${port},'127.0.0.1').on('connect',()=>process.exit(0)).on('error',()=>process.exit(1))`,
    ]);
    if (probe.status === 0) break;
    if (Date.now() > deadline || child.exitCode !== null)
      throw new Error(`nginx did not start:\n${stderr}\n${readFileSync(path.join(dir, 'error.log'), 'utf8')}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    url: `https://127.0.0.1:${port}`,
    accessLog: () =>
      readFileSync(path.join(dir, 'access.log'), 'utf8')
        .split('\n')
        .filter((line) => line !== ''),
    stop: () => stopChild(child),
  };
}
