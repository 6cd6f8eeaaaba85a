import { SetMetadata } from '@nestjs/common';

export const IS_PUBLIC_KEY = 'isPublic';

/** Marks a route as reachable without a token. Every such route must be on the allow-list in the route-audit test. */
export const Public = () => SetMetadata(IS_PUBLIC_KEY, true);
