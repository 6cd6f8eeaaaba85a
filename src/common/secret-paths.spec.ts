import { redactedPath } from './secret-paths';

describe('redactedPath', () => {
  it('hides the token of a share link path, keeping the rest', () => {
    const token = 'q0xA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8S9t_-';
    expect(redactedPath(`/v1/shared/${token}`)).toBe('/v1/shared/[token]');
    expect(redactedPath(`/v1/shared/${token}?utm=x`)).toBe('/v1/shared/[token]?utm=x');
    expect(redactedPath(`/v1/shared/${token}/`)).toBe('/v1/shared/[token]/');
    expect(redactedPath(`/V1/Shared/${token}`)).toBe('/V1/Shared/[token]');
  });

  it('leaves every other path alone', () => {
    for (const path of ['/v1/chat/shares', '/v1/chat/shares/3', '/v1/shared', '/v1/shared/', '/v1/chat/sessions/12/share', '/health']) {
      expect(redactedPath(path)).toBe(path);
    }
  });
});
