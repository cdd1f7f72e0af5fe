/**
 * The one entry point to @peculiar/x509. The library needs a Reflect metadata polyfill loaded
 * before it (its dependency tsyringe throws otherwise) and a WebCrypto provider; both are set up
 * here, so pki modules import from './x509.js', never from '@peculiar/x509' directly.
 */
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

export { x509 };
