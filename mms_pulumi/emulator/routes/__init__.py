"""One router per MMS resource, plus the scoring proxy and the emulator's control knobs."""
