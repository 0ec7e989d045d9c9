/** The key source over the kit's own key set follows rotation as it happens. */

import { describe, expect, it } from 'vitest';
import { createKeySet } from '../keys/key-set.js';
import { generateSigningKey } from '../keys/signing-key.js';
import { createFakeClock } from '../runtime/clock.js';
import { keySetSource } from './kit-key-source.js';

describe('keySetSource', () => {
  it('knows next and current keys at once, keeps a retiring key until it leaves the JWKS, then forgets it', async () => {
    const clock = createFakeClock();
    const [a, b] = await Promise.all([generateSigningKey({ kid: 'a' }), generateSigningKey({ kid: 'b' })]);
    const keys = createKeySet({ current: a, clock, maxTokenLifetimeMs: 60_000, clockSkewMs: 0 });
    const source = keySetSource(keys);
    expect(source.resolve('a')).toMatchObject({ kid: 'a', algorithms: ['EdDSA'] });
    expect(source.resolve('b')).toBe('unknown_key');

    keys.publish(b);
    expect(source.peek('b')?.kid).toBe('b');
    keys.promote('b');
    expect(source.resolve('a')).toMatchObject({ kid: 'a' });
    clock.advance(60_000);
    expect(source.resolve('a')).toBe('unknown_key');
    expect(source.peek('a')).toBeUndefined();
    expect(source.resolve('b')).toMatchObject({ kid: 'b' });
  });

  it('hands out the same object while a key is unchanged (so the verifier imports it once), and no private part', async () => {
    const key = await generateSigningKey({ kid: 'k', alg: 'ES256' });
    const source = keySetSource(createKeySet({ current: key }));
    const first = source.resolve('k');
    expect(source.resolve('k')).toBe(first);
    expect(source.peek('k')).toBe(first);
    expect((first as { jwk: Record<string, unknown> }).jwk).not.toHaveProperty('d');
  });
});
