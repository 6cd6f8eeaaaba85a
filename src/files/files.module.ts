import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ChatsModule } from '../chats/chats.module';
import { AppConfig, appConfig } from '../config/app-config';
import { FileContentEntity } from './file-content.entity';
import { FileObjectDeletionEntity } from './file-object-deletion.entity';
import { FileEntity } from './file.entity';
import { FilesController } from './files.controller';
import { FilesRepository } from './files.repository';
import { FilesService } from './files.service';
import { PdfExtractionService } from './pdf-extraction.service';
import { FileStorage } from './storage/file-storage';
import { PostgresFileStorage } from './storage/postgres-file.storage';
import { S3FileStorage } from './storage/s3-file.storage';

/**
 * PDF uploads of chat sessions and their text as model context. Uses Chats for the ownership check. The bytes go
 * to PostgreSQL, or to an S3-compatible bucket when `S3_*` is configured.
 */
@Module({
  imports: [TypeOrmModule.forFeature([FileEntity, FileContentEntity, FileObjectDeletionEntity]), ChatsModule],
  controllers: [FilesController],
  providers: [
    FilesService,
    FilesRepository,
    PdfExtractionService,
    {
      provide: FileStorage,
      inject: [appConfig.KEY, FilesRepository],
      useFactory: (config: AppConfig, files: FilesRepository): FileStorage =>
        config.s3 ? new S3FileStorage(config, files) : new PostgresFileStorage(files),
    },
  ],
  exports: [FilesService],
})
export class FilesModule {}
