import { ApiProperty } from '@nestjs/swagger';
import { PageMetaDto } from '../../common/pagination.dto';
import { FileEntity } from '../file.entity';

/** The API guide's `metadata` of an uploaded file. */
export class FileMetadataDto {
  @ApiProperty({ type: 'integer' }) page_count: number;
}

/** A file without its text, as listings show it. */
export class FileSummaryDto {
  @ApiProperty({ type: 'integer' }) id: number;
  @ApiProperty({ type: 'integer' }) session_id: number;
  /** The name the client gave the file (cleaned: no folders, no control characters). */
  filename: string;
  /** Bytes. */
  @ApiProperty({ type: 'integer' }) file_size: number;
  /** Always `application/pdf`: decided from the bytes, not from what the client said. */
  mime_type: string;
  metadata: FileMetadataDto;
  /** Lower-case hex SHA-256 of the bytes (one file per content per session). */
  sha256: string;
  /** True when the extracted text was cut at the server's `files.max_text_chars`. */
  text_truncated: boolean;
  created_at: string;

  static from(f: FileEntity): FileSummaryDto {
    return {
      id: f.id,
      session_id: f.sessionId,
      filename: f.filename,
      file_size: f.fileSize,
      mime_type: f.mimeType,
      metadata: { page_count: f.pageCount },
      sha256: f.sha256,
      text_truncated: f.textTruncated,
      created_at: f.createdAt.toISOString(),
    };
  }
}

/** A file with its extracted text (the API guide's upload answer's `file`). */
export class FileDto extends FileSummaryDto {
  /** The PDF's text, page after page (pages separated by a blank line). */
  extracted_text: string;

  static override from(f: FileEntity): FileDto {
    return { ...FileSummaryDto.from(f), extracted_text: f.extractedText };
  }
}

/** The API guide's upload answer: `{ file, message: "File uploaded successfully" }`. */
export class UploadResultDto {
  file: FileDto;
  message: string;
}

/** Body of the upload: multipart/form-data with one PDF in `file`. */
export class UploadFileDto {
  /** The PDF (at most `MAX_UPLOAD_BYTES`, default 10 MiB). */
  @ApiProperty({ type: 'string', format: 'binary' }) file: unknown;
}

/** A page of a session's files, oldest first, without their text. */
export class FilePageDto extends PageMetaDto {
  items: FileSummaryDto[];
}

/** `{ "message": "File deleted successfully" }`. */
export class FileDeletedDto {
  message: string;
}
