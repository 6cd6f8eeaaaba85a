import { ExecutionContext, HttpStatus, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AuthGuard } from '@nestjs/passport';
import { IS_PUBLIC_KEY } from '../common/public.decorator';
import { ProblemException } from '../common/problem';

/**
 * The global authentication guard: a bearer access JWT (`jwt` strategy) or an application API key (`api-key`
 * strategy). Routes marked `@Public()` skip it. Every failure is the same 401, whatever was wrong.
 */
@Injectable()
export class JwtAuthGuard extends AuthGuard(['jwt', 'api-key']) {
  constructor(private readonly reflector: Reflector) {
    super();
  }

  override canActivate(context: ExecutionContext) {
    const isPublic = this.reflector.getAllAndOverride<boolean>(IS_PUBLIC_KEY, [context.getHandler(), context.getClass()]);
    return isPublic ? true : super.canActivate(context);
  }

  /**
   * A strategy that *threw* (the database is down, say) is not a bad token: that error goes on to the filter (500)
   * instead of being hidden behind a 401.
   */
  override handleRequest<TUser>(err: unknown, user: TUser | false): TUser {
    if (err) throw err as Error;
    if (!user) {
      throw new ProblemException(HttpStatus.UNAUTHORIZED, 'A valid bearer token is required.', {}, { 'WWW-Authenticate': 'Bearer' });
    }
    return user;
  }
}
