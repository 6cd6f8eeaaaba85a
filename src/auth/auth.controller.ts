import { Body, Controller, Delete, Get, HttpCode, HttpStatus, Param, Post, Query } from '@nestjs/common';
import {
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiTags,
  ApiTooManyRequestsResponse,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import { AuthenticatedUser, CurrentUser } from '../common/authenticated-user';
import { PageQueryDto } from '../common/pagination.dto';
import { Public } from '../common/public.decorator';
import type { ClientSeen } from '../credentials/refresh-tokens.repository';
import { AuthRateLimit } from '../rate-limit/rate-limit.decorators';
import { Client, KeyScope, UserTokenOnly } from './auth.decorators';
import { AuthTokensDto, LoginDto, LoginSessionPageDto, RefreshTokenDto, RegisterDto } from './auth.dto';
import { AuthService } from './auth.service';

/**
 * `/v1/auth`: accounts, tokens and login sessions. Register, login, anonymous and refresh are public and limited
 * per IP; the rest needs a user's access token.
 */
@ApiTags('auth')
@Controller('v1/auth')
@KeyScope('none')
export class AuthController {
  constructor(private readonly auth: AuthService) {}

  /** Creates an account and returns its first token pair. 409 when the email is taken. */
  @Post('register')
  @Public()
  @AuthRateLimit()
  @ApiCreatedResponse({ type: AuthTokensDto })
  register(@Body() dto: RegisterDto, @Client() client: ClientSeen): Promise<AuthTokensDto> {
    return this.auth.register(dto, client);
  }

  /** Logs in with email and password. After repeated failures an email must wait longer and longer (429). */
  @Post('login')
  @Public()
  @AuthRateLimit()
  @HttpCode(HttpStatus.OK)
  @ApiOkResponse({ type: AuthTokensDto })
  @ApiUnauthorizedResponse({ description: 'Incorrect email or password (the same answer for both).' })
  @ApiTooManyRequestsResponse({
    description: 'Too many failed logins for this email (known or not): wait for the time in Retry-After.',
  })
  login(@Body() dto: LoginDto, @Client() client: ClientSeen): Promise<AuthTokensDto> {
    return this.auth.login(dto, client);
  }

  /** Starts an anonymous user; it can claim an account later with PATCH /v1/users/me, keeping its sessions. */
  @Post('anonymous')
  @Public()
  @AuthRateLimit()
  @ApiCreatedResponse({ type: AuthTokensDto })
  anonymous(@Client() client: ClientSeen): Promise<AuthTokensDto> {
    return this.auth.anonymous(client);
  }

  /**
   * Exchanges a refresh token for a new pair; the old one is spent. Presented again within a few seconds (two tabs
   * refreshing at once) it returns the same new pair; later, it ends its session (RFC 9700 reuse detection).
   */
  @Post('refresh')
  @Public()
  @AuthRateLimit()
  @HttpCode(HttpStatus.OK)
  @ApiOkResponse({ type: AuthTokensDto })
  @ApiUnauthorizedResponse({ description: 'The refresh token is unknown, spent, revoked or expired.' })
  refresh(@Body() dto: RefreshTokenDto, @Client() client: ClientSeen): Promise<AuthTokensDto> {
    return this.auth.refresh(dto, client);
  }

  /** Ends the refresh token's session (this login): its refresh and access tokens stop working at once. */
  @Post('logout')
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiNoContentResponse({ description: 'Logged out (also when the token was already revoked).' })
  logout(@CurrentUser() user: AuthenticatedUser, @Body() dto: RefreshTokenDto): Promise<void> {
    return this.auth.logout(user.id, dto);
  }

  /** Ends every login session of the caller, this one included: all their tokens stop working at once. */
  @Post('logout-all')
  @UserTokenOnly()
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiNoContentResponse({ description: 'Every session ended.' })
  logoutAll(@CurrentUser() user: AuthenticatedUser): Promise<void> {
    return this.auth.logoutAll(user.id);
  }

  /** Lists the caller's live login sessions (devices), the most recently used first; `current` is this one. */
  @Get('sessions')
  @UserTokenOnly()
  @ApiOkResponse({ type: LoginSessionPageDto })
  sessions(@CurrentUser() user: AuthenticatedUser, @Query() query: PageQueryDto): Promise<LoginSessionPageDto> {
    return this.auth.listSessions(user, query);
  }

  /** Ends one of the caller's login sessions: its refresh and access tokens stop working at once. */
  @Delete('sessions/:id')
  @UserTokenOnly()
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiNoContentResponse({ description: 'Ended (also when it had already ended).' })
  @ApiNotFoundResponse({ description: 'No session with this id is the caller’s.' })
  endSession(@CurrentUser() user: AuthenticatedUser, @Param('id') id: string): Promise<void> {
    return this.auth.endSession(user.id, id);
  }
}
