import { Module } from '@nestjs/common';
import { ImagesService } from './images.service';

/** Image parts: checking them (type, size, dimensions) and loading them through the SSRF-safe fetcher. */
@Module({
  providers: [ImagesService],
  exports: [ImagesService],
})
export class ImagesModule {}
