import { Body, Controller, HttpCode, HttpStatus, Post } from '@nestjs/common';
import {
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import { AuthenticatedUser, CurrentUser } from '../common/authenticated-user';
import { Public } from '../common/public.decorator';
import { AuthRateLimit } from '../rate-limit/rate-limit.decorators';
import { AuthTokensDto, LoginDto, RefreshTokenDto, RegisterDto } from './auth.dto';
import { AuthService } from './auth.service';

/** `/v1/auth`: accounts and tokens. Everything but logout is public and limited per IP. */
@ApiTags('auth')
@Controller('v1/auth')
export class AuthController {
  constructor(private readonly auth: AuthService) {}

  /** Creates an account and returns its first token pair. 409 when the email is taken. */
  @Post('register')
  @Public()
  @AuthRateLimit()
  @ApiCreatedResponse({ type: AuthTokensDto })
  @ApiConflictResponse({ description: 'An account with this email already exists.' })
  @ApiOperation({ operationId: 'register' })
  register(@Body() dto: RegisterDto): Promise<AuthTokensDto> {
    return this.auth.register(dto);
  }

  /** Logs in with email and password. */
  @Post('login')
  @Public()
  @AuthRateLimit()
  @HttpCode(HttpStatus.OK)
  @ApiOkResponse({ type: AuthTokensDto })
  @ApiUnauthorizedResponse({ description: 'Incorrect email or password (the same answer for both).' })
  @ApiOperation({ operationId: 'login' })
  login(@Body() dto: LoginDto): Promise<AuthTokensDto> {
    return this.auth.login(dto);
  }

  /** Starts an anonymous user; it can claim an account later with PATCH /v1/users/me, keeping its sessions. */
  @Post('anonymous')
  @Public()
  @AuthRateLimit()
  @ApiCreatedResponse({ type: AuthTokensDto })
  @ApiOperation({ operationId: 'createAnonymousUser' })
  anonymous(): Promise<AuthTokensDto> {
    return this.auth.anonymous();
  }

  /**
   * Exchanges a refresh token for a new pair; the old one is spent. Presenting a spent token again revokes every
   * token of its family (RFC 9700 reuse detection).
   */
  @Post('refresh')
  @Public()
  @AuthRateLimit()
  @HttpCode(HttpStatus.OK)
  @ApiOkResponse({ type: AuthTokensDto })
  @ApiUnauthorizedResponse({ description: 'The refresh token is unknown, spent, revoked or expired.' })
  @ApiOperation({ operationId: 'refreshTokens' })
  refresh(@Body() dto: RefreshTokenDto): Promise<AuthTokensDto> {
    return this.auth.refresh(dto);
  }

  /** Revokes the refresh token's family (this login); access tokens already issued expire on their own. */
  @Post('logout')
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiNoContentResponse({ description: 'Logged out (also when the token was already revoked).' })
  @ApiOperation({ operationId: 'logout' })
  logout(@CurrentUser() user: AuthenticatedUser, @Body() dto: RefreshTokenDto): Promise<void> {
    return this.auth.logout(user.id, dto);
  }
}
