/**
 * PEM's web server in the lab: an Apache-style edb-ssl-pem.conf under the host root pointing at
 * /usr/edb/pem/resources/server-pem.crt/.key (self-signed, 7300 days, as configure-pem-server.sh
 * makes them), served by httpd-daemon.mjs on a loopback port and managed as service `httpd`.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { selfSigned } from './openssl.js';
import type { KeySpec } from './openssl.js';

export interface HttpdLayout {
  root: string;
  confFile: string;
  certFile: string;
  keyFile: string;
  logFile: string;
  pidFile: string;
}

export function httpdLayout(root: string): HttpdLayout {
  return {
    root,
    confFile: join(root, 'etc/httpd/conf.d/edb-ssl-pem.conf'),
    certFile: join(root, 'usr/edb/pem/resources/server-pem.crt'),
    keyFile: join(root, 'usr/edb/pem/resources/server-pem.key'),
    logFile: join(root, 'var/log/httpd/error_log'),
    pidFile: join(root, 'var/run/httpd.pid'),
  };
}

export function httpdConfText(l: HttpdLayout, o: { address: string; port: number; serverName: string }): string {
  return [
    '# PEM web application over HTTPS (fleetplay lab; Apache syntax, the directives the lab reads)',
    `Listen ${o.address}:${o.port} https`,
    `<VirtualHost ${o.address}:${o.port}>`,
    `    ServerName ${o.serverName}:${o.port}`,
    '    SSLEngine on',
    '    SSLProtocol all -SSLv3 -TLSv1 -TLSv1.1',
    `    SSLCertificateFile ${l.certFile}`,
    `    SSLCertificateKeyFile ${l.keyFile}`,
    '</VirtualHost>',
    '',
  ].join('\n');
}

/** Write the self-signed server-pem pair and the conf. */
export async function setupHttpd(o: { root: string; address: string; port: number; serverName: string; key?: KeySpec }): Promise<HttpdLayout> {
  const l = httpdLayout(o.root);
  await mkdir(dirname(l.certFile), { recursive: true, mode: 0o755 });
  await mkdir(dirname(l.confFile), { recursive: true, mode: 0o755 });
  await selfSigned({
    keyFile: l.keyFile,
    certFile: l.certFile,
    subject: `/O=EDB/CN=${o.serverName}`,
    profile: 'server',
    key: o.key ?? { type: 'rsa' },
    days: 7300,
    san: [o.serverName, o.address],
  });
  await writeFile(l.confFile, httpdConfText(l, o), { mode: 0o644 });
  return l;
}
