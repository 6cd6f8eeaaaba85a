import { Controller, Delete, Get, Header, Param, Post, Query, Req, Res, StreamableFile } from '@nestjs/common';
import { KeyScope } from '../auth/auth.decorators';
import {
  ApiBearerAuth,
  ApiBody,
  ApiConsumes,
  ApiCreatedResponse,
  ApiOkResponse,
  ApiProduces,
  ApiTags,
} from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { AuthenticatedUser, CurrentUser } from '../common/authenticated-user';
import { PageQueryDto } from '../common/pagination.dto';
import { ParseIdPipe } from '../common/parse-id.pipe';
import { FileDeletedDto, FileDto, FilePageDto, UploadFileDto, UploadResultDto } from './dto/file.dto';
import { FilesService } from './files.service';
import { answerUpload } from './upload-response';

/** PDF files of chat sessions (seed 004's upload, under its `/api/chat` prefix). */
@ApiTags('files')
@ApiBearerAuth()
@Controller('api/chat')
@KeyScope('files')
export class FilesController {
  constructor(private readonly files: FilesService) {}

  /**
   * Upload a PDF to a session (seed 004): multipart field `file`. Its text becomes context for the session's
   * next messages. 201 for a new file; 200 with the stored file when these exact bytes were uploaded to this
   * session before. 413 too large, 415 not a PDF, 422 session full or unreadable (encrypted, damaged, too many
   * pages, no text, or over the processing budget), 429 too many PDFs being processed.
   */
  @Post('sessions/:session_id/upload')
  @ApiConsumes('multipart/form-data')
  @ApiBody({ type: UploadFileDto })
  @ApiCreatedResponse({ type: UploadResultDto, description: 'A new file.' })
  @ApiOkResponse({ type: UploadResultDto, description: 'These bytes were already uploaded to this session.' })
  upload(
    @CurrentUser() user: AuthenticatedUser,
    @Param('session_id', ParseIdPipe) sessionId: number,
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
  ): Promise<UploadResultDto> {
    return answerUpload(req, res, () => this.files.upload(user, sessionId, req));
  }

  /** A session's files, oldest first, without their text. */
  @Get('sessions/:session_id/files')
  @ApiOkResponse({ type: FilePageDto })
  list(
    @CurrentUser() user: AuthenticatedUser,
    @Param('session_id', ParseIdPipe) sessionId: number,
    @Query() query: PageQueryDto,
  ): Promise<FilePageDto> {
    return this.files.listForSession(user, sessionId, query);
  }

  /** One file with its extracted text. */
  @Get('files/:file_id')
  @ApiOkResponse({ type: FileDto })
  get(@CurrentUser() user: AuthenticatedUser, @Param('file_id', ParseIdPipe) id: number): Promise<FileDto> {
    return this.files.get(user, id);
  }

  /** The original bytes, as an attachment. */
  @Get('files/:file_id/content')
  @ApiProduces('application/pdf')
  @ApiOkResponse({ schema: { type: 'string', format: 'binary' }, description: 'The PDF as uploaded.' })
  @Header('X-Content-Type-Options', 'nosniff')
  content(@CurrentUser() user: AuthenticatedUser, @Param('file_id', ParseIdPipe) id: number): Promise<StreamableFile> {
    return this.files.content(user, id);
  }

  /** Delete a file and its bytes; the session's next messages no longer carry its text. */
  @Delete('files/:file_id')
  @ApiOkResponse({ type: FileDeletedDto })
  remove(@CurrentUser() user: AuthenticatedUser, @Param('file_id', ParseIdPipe) id: number): Promise<FileDeletedDto> {
    return this.files.remove(user, id);
  }
}
