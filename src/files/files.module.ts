import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ChatsModule } from '../chats/chats.module';
import { FileContentEntity } from './file-content.entity';
import { FileEntity } from './file.entity';
import { FilesController } from './files.controller';
import { FilesRepository } from './files.repository';
import { FilesService } from './files.service';
import { PdfExtractionService } from './pdf-extraction.service';

/** PDF uploads of chat sessions and their text as model context. Uses Chats for the ownership check. */
@Module({
  imports: [TypeOrmModule.forFeature([FileEntity, FileContentEntity]), ChatsModule],
  controllers: [FilesController],
  providers: [FilesService, FilesRepository, PdfExtractionService],
  exports: [FilesService],
})
export class FilesModule {}
