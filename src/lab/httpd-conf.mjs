/**
 * The lab httpd's configuration reader, shared by the daemon and `configtest`: an Apache-style
 * edb-ssl-pem.conf with Listen, SSLEngine, SSLCertificateFile, SSLCertificateKeyFile (and
 * optionally SSLCertificateChainFile). Loading checks what apachectl configtest would: the files
 * parse and the key matches the certificate.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';

/** Parse the directives we use; throws with file:line on a malformed line. */
export function parseHttpdConf(path) {
  const text = readFileSync(path, 'utf8');
  const conf = { listen: null, sslEngine: false, certFile: null, keyFile: null, chainFile: null, serverName: null };
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith('<')) return;
    const m = /^(\S+)\s+(.+)$/.exec(line);
    if (!m) throw new Error(`${path}:${i + 1}: syntax error: "${line}"`);
    const [, name, rawValue] = m;
    const value = (rawValue ?? '').replace(/^"(.*)"$/, '$1');
    switch (name) {
      case 'Listen': {
        const l = /^(?:([0-9.]+):)?(\d+)/.exec(value);
        if (!l) throw new Error(`${path}:${i + 1}: bad Listen "${value}"`);
        conf.listen = { host: l[1] ?? '127.0.0.1', port: Number(l[2]) };
        break;
      }
      case 'SSLEngine':
        conf.sslEngine = value.toLowerCase() === 'on';
        break;
      case 'SSLCertificateFile':
        conf.certFile = value;
        break;
      case 'SSLCertificateKeyFile':
        conf.keyFile = value;
        break;
      case 'SSLCertificateChainFile':
        conf.chainFile = value;
        break;
      case 'ServerName':
        conf.serverName = value;
        break;
      default:
        break;
    }
  });
  if (!conf.listen) throw new Error(`${path}: no Listen directive`);
  if (!conf.sslEngine) throw new Error(`${path}: SSLEngine is not on`);
  if (!conf.certFile) throw new Error(`${path}: SSLCertificateFile is missing`);
  if (!conf.keyFile) throw new Error(`${path}: SSLCertificateKeyFile is missing`);
  return conf;
}

/** Read cert (+ chain) and key and check they belong together; returns the TLS material. */
export function loadTls(conf) {
  let cert;
  let key;
  try {
    cert = readFileSync(conf.certFile, 'utf8');
  } catch (e) {
    throw new Error(`SSLCertificateFile: file '${conf.certFile}' does not exist or is empty (${e.code ?? e.message})`);
  }
  try {
    key = readFileSync(conf.keyFile, 'utf8');
  } catch (e) {
    throw new Error(`SSLCertificateKeyFile: file '${conf.keyFile}' does not exist or is empty (${e.code ?? e.message})`);
  }
  if (conf.chainFile) cert = `${cert.trimEnd()}\n${readFileSync(conf.chainFile, 'utf8')}`;
  let x;
  try {
    x = new X509Certificate(cert);
  } catch (e) {
    throw new Error(`unable to load certificate ${conf.certFile}: ${e.message}`);
  }
  let k;
  try {
    k = createPrivateKey(key);
  } catch (e) {
    throw new Error(`unable to load private key ${conf.keyFile}: ${e.message}`);
  }
  if (!x.checkPrivateKey(k)) throw new Error(`private key ${conf.keyFile} does not match certificate ${conf.certFile}`);
  return { cert, key, fingerprint: x.fingerprint256, subject: x.subject.split('\n').join(', ') };
}
