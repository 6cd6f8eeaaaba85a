import { Body, Controller, Delete, Get, Header, HttpCode, Param, Post, Query, StreamableFile } from '@nestjs/common';
import { ApiCreatedResponse, ApiNoContentResponse, ApiNotFoundResponse, ApiOkResponse, ApiPayloadTooLargeResponse, ApiProduces, ApiTags } from '@nestjs/swagger';
import { create as contentDisposition } from 'content-disposition';
import { KeyScope } from '../auth/auth.decorators';
import { SessionDto } from '../chats/dto/session.dto';
import { AuthenticatedUser, CurrentUser } from '../common/authenticated-user';
import { OperationId } from '../common/operation-id.decorator';
import { ParseIdPipe } from '../common/parse-id.pipe';
import { ExportQueryDto, SessionExportDto } from './dto/session-export.dto';
import { CreatedShareLinkDto, CreateShareLinkDto, ShareLinkPageDto, ShareLinksQueryDto } from './dto/share-link.dto';
import { SharingService } from './sharing.service';

/** Export and import of sessions, and my share links. */
@ApiTags('sharing')
@Controller('v1/chat')
@KeyScope('sessions:read')
export class SharingController {
  constructor(private readonly sharing: SharingService) {}

  /**
   * Download a session: `format=json` (default) the whole message tree with every branch, models, timestamps and
   * usage, in the format `POST /v1/chat/sessions/import` reads; `format=markdown` the active branch as a readable
   * document. Not cached (`Cache-Control: no-store`).
   */
  @Get('sessions/:session_id/export')
  @OperationId('exportSession')
  @ApiProduces('application/json', 'text/markdown')
  @ApiOkResponse({
    description: 'An attachment: the export (JSON) or the active branch (Markdown).',
    content: { 'application/json': { schema: { $ref: '#/components/schemas/SessionExportDto' } }, 'text/markdown': { schema: { type: 'string' } } },
  })
  @ApiNotFoundResponse({ description: 'No such session of yours.' })
  @Header('X-Content-Type-Options', 'nosniff')
  // A whole private conversation: no cache (the browser's included) keeps a copy.
  @Header('Cache-Control', 'no-store')
  async export(
    @CurrentUser() user: AuthenticatedUser,
    @Param('session_id', ParseIdPipe) sessionId: number,
    @Query() query: ExportQueryDto,
  ): Promise<StreamableFile> {
    const file = await this.sharing.export(user, sessionId, query.format);
    const body = Buffer.from(file.body, 'utf8');
    return new StreamableFile(body, { type: file.contentType, length: body.length, disposition: contentDisposition(file.fileName) });
  }

  /**
   * Import an export (`format: chat-session`, version 1) as a new session of mine: the same tree, new ids, the same
   * active branch. The body may be up to `sharing.import_body_bytes` (10 MiB by default). Nothing is stored when it
   * is refused.
   */
  @Post('sessions/import')
  @KeyScope('chat')
  @OperationId('importSession')
  @ApiCreatedResponse({ type: SessionDto, description: 'The new session.' })
  @ApiPayloadTooLargeResponse({ description: 'The body is larger than `sharing.import_body_bytes`.' })
  async import(@CurrentUser() user: AuthenticatedUser, @Body() dto: SessionExportDto): Promise<SessionDto> {
    return SessionDto.from(await this.sharing.import(user, dto));
  }

  /**
   * Share a session: a read-only link (`GET /v1/shared/{token}`, no sign-in) to a snapshot of its active branch as
   * it is now; later messages are not shown. The token is returned this once.
   */
  @Post('sessions/:session_id/share')
  @KeyScope('chat')
  @OperationId('shareSession')
  @ApiCreatedResponse({ type: CreatedShareLinkDto })
  @ApiNotFoundResponse({ description: 'No such session of yours.' })
  share(
    @CurrentUser() user: AuthenticatedUser,
    @Param('session_id', ParseIdPipe) sessionId: number,
    @Body() dto: CreateShareLinkDto,
  ): Promise<CreatedShareLinkDto> {
    return this.sharing.share(user, sessionId, dto.expires_at);
  }

  /** A page of my share links that are not revoked, newest first (`session_id` filters). Tokens are never shown again. */
  @Get('shares')
  @OperationId('listShareLinks')
  @ApiOkResponse({ type: ShareLinkPageDto })
  list(@CurrentUser() user: AuthenticatedUser, @Query() query: ShareLinksQueryDto): Promise<ShareLinkPageDto> {
    return this.sharing.list(user, query);
  }

  /** Revoke a share link: it answers 404 from now on. */
  @Delete('shares/:share_id')
  @KeyScope('chat')
  @HttpCode(204)
  @OperationId('revokeShareLink')
  @ApiNoContentResponse({ description: 'Revoked.' })
  @ApiNotFoundResponse({ description: 'No such link of yours, or already revoked.' })
  revoke(@CurrentUser() user: AuthenticatedUser, @Param('share_id', ParseIdPipe) id: number): Promise<void> {
    return this.sharing.revoke(user, id);
  }
}
