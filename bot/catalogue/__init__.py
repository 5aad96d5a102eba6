"""The catalogue: what the community makes (discoveries, votes, bookmarks, moderation), in Redis."""
