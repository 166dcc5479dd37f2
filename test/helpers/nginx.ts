// A real nginx (Debian's package) on loopback, load-balancing HTTP and websockets over server instances.
import { spawn } from 'node:child_process';
import { mkdtemp, mkdir, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from './process.js';

export interface Nginx {
  port: number;
  stop(): Promise<void>;
}

export interface NginxOptions {
  /** Source address of nginx's connections to the upstreams (`proxy_bind`), e.g. another loopback address. */
  bindAddress?: string;
}

export async function startNginx(upstreamPorts: number[], options: NginxOptions = {}): Promise<Nginx> {
  const dir = await mkdtemp(path.join(tmpdir(), 'tetcore-nginx-'));
  await mkdir(path.join(dir, 'tmp'));
  const port = await freePort();
  const conf = `
worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path ${dir}/tmp/body; proxy_temp_path ${dir}/tmp/proxy;
  fastcgi_temp_path ${dir}/tmp/fastcgi; uwsgi_temp_path ${dir}/tmp/uwsgi; scgi_temp_path ${dir}/tmp/scgi;
  upstream analytics {
${upstreamPorts.map((p) => `    server 127.0.0.1:${p} max_fails=1 fail_timeout=5s;`).join('\n')}
  }
  map $http_upgrade $connection_upgrade { default upgrade; '' close; }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://analytics;
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      # The Host the browser used, so that the server can tell its own pages' Origin (ALLOWED_ORIGINS).
      proxy_set_header Host $http_host;
${options.bindAddress ? `      proxy_bind ${options.bindAddress};\n` : ''}      proxy_read_timeout 1h;
      proxy_send_timeout 1h;
      proxy_next_upstream error timeout http_502 http_503;
    }
  }
}
`;
  await writeFile(path.join(dir, 'nginx.conf'), conf);
  const child = spawn('nginx', ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-e', path.join(dir, 'error.log')], { stdio: 'ignore' });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.once('error', (error) => {
    throw new Error(`nginx could not start (apt-get install nginx-light): ${error.message}`);
  });
  // Ready when it answers.
  for (let i = 0; ; i++) {
    try {
      await fetch(`http://127.0.0.1:${port}/health`);
      break;
    } catch {
      if (i > 100) throw new Error('nginx did not start');
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return {
    port,
    async stop() {
      child.kill('SIGQUIT');
      await exited;
      await rm(dir, { recursive: true, force: true });
    },
  };
}
