/** Issue #15 finding 8: which addresses an outbound webhook may not reach (IPv4 and IPv6). */
import { describe, expect, it } from 'vitest';
import { checkWebhookTarget, privateAddressKind } from '../../../src/outreach/webhook-sender.js';

describe('privateAddressKind', () => {
  it('names private, loopback, link-local and other non-public IPv4 ranges', () => {
    const cases: [string, string | null][] = [
      ['127.0.0.1', 'loopback'],
      ['127.255.0.9', 'loopback'],
      ['10.1.2.3', 'private'],
      ['172.16.0.1', 'private'],
      ['172.31.255.255', 'private'],
      ['192.168.1.1', 'private'],
      ['169.254.169.254', 'link-local'],
      ['100.64.0.1', 'shared (CGNAT)'],
      ['0.0.0.0', 'unspecified'],
      ['224.0.0.1', 'multicast'],
      ['255.255.255.255', 'reserved'],
      ['198.18.0.1', 'benchmarking'],
      ['172.15.255.255', null],
      ['172.32.0.0', null],
      ['8.8.8.8', null],
      ['93.184.216.34', null],
    ];
    for (const [ip, kind] of cases) expect(privateAddressKind(ip), ip).toBe(kind);
  });

  it('names IPv6 loopback, link-local, unique-local, and IPv4 addresses wrapped in IPv6', () => {
    const cases: [string, string | null][] = [
      ['::1', 'loopback'],
      ['::', 'unspecified'],
      ['fe80::1', 'link-local'],
      ['fe80::1%eth0', 'link-local'],
      ['fc00::1', 'unique-local'],
      ['fd12:3456:789a::1', 'unique-local'],
      ['fec0::1', 'site-local'],
      ['ff02::1', 'multicast'],
      ['::ffff:127.0.0.1', 'loopback'],
      ['::ffff:7f00:1', 'loopback'],
      ['::ffff:10.0.0.1', 'private'],
      ['64:ff9b::a9fe:a9fe', 'link-local'],
      ['2002:c0a8:0101::1', 'private'],
      ['2001:db8::1', 'documentation'],
      ['2606:4700:4700::1111', null],
      ['2a00:1450:4001:81b::200e', null],
      ['::ffff:8.8.8.8', null],
    ];
    for (const [ip, kind] of cases) expect(privateAddressKind(ip), ip).toBe(kind);
  });
});

describe('checkWebhookTarget', () => {
  const lookup = (addresses: string[]) => async () => addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));

  it('checks every address a name resolves to', async () => {
    expect(await checkWebhookTarget(new URL('https://hooks.example.com/x'), { allowPrivate: false, lookup: lookup(['93.184.216.34']) })).toEqual({
      ok: true,
      addresses: [{ address: '93.184.216.34', family: 4 }],
    });
    const mixed = await checkWebhookTarget(new URL('https://hooks.example.com/x'), { allowPrivate: false, lookup: lookup(['93.184.216.34', '10.0.0.7']) });
    expect(mixed).toEqual({ ok: false, retryable: false, error: expect.stringMatching(/hooks\.example\.com resolves to 10\.0\.0\.7, a private address.*WEBHOOK_ALLOW_PRIVATE/) });
  });

  it('refuses literal addresses without a lookup, and allows them when private targets are allowed', async () => {
    const never = async () => {
      throw new Error('no lookup for a literal address');
    };
    expect(await checkWebhookTarget(new URL('http://[::1]:8080/x'), { allowPrivate: false, lookup: never })).toMatchObject({ ok: false, error: expect.stringMatching(/::1.*loopback/) });
    expect(await checkWebhookTarget(new URL('http://169.254.169.254/latest/meta-data'), { allowPrivate: false, lookup: never })).toMatchObject({
      ok: false,
      error: expect.stringMatching(/link-local/),
    });
    expect(await checkWebhookTarget(new URL('http://127.0.0.1:9/x'), { allowPrivate: true, lookup: never })).toEqual({ ok: true, addresses: [{ address: '127.0.0.1', family: 4 }] });
  });

  it('a name that does not resolve is a retryable failure', async () => {
    const nx = async () => {
      throw Object.assign(new Error('getaddrinfo ENOTFOUND nx.example.com'), { code: 'ENOTFOUND' });
    };
    expect(await checkWebhookTarget(new URL('https://nx.example.com/'), { allowPrivate: false, lookup: nx })).toEqual({ ok: false, retryable: true, error: 'network error: ENOTFOUND' });
  });
});
