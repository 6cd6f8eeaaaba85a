import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ChatsModule } from '../chats/chats.module';
import { MessagesModule } from '../messages/messages.module';
import { ProvidersModule } from '../providers/providers.module';
import { ShareLinkEntity } from './share-link.entity';
import { ShareLinksRepository } from './share-links.repository';
import { SharedController } from './shared.controller';
import { SharingController } from './sharing.controller';
import { SharingService } from './sharing.service';

/** Export and import of sessions, and read-only share links. */
@Module({
  imports: [TypeOrmModule.forFeature([ShareLinkEntity]), ChatsModule, MessagesModule, ProvidersModule],
  controllers: [SharingController, SharedController],
  providers: [SharingService, ShareLinksRepository],
})
export class SharingModule {}
