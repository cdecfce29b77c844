/** The chat actor, provided once at the root beside the connection actor. */
import { createActorContext } from '@xstate/react';
import { chatLogic } from './chat.ts';

export const ChatContext = createActorContext(chatLogic);
