//! Sans-IO chat: wire messages, tokens, room sequencing, like coalescing, moderation rules.
