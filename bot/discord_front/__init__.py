"""The Discord front end: the bot, its commands and buttons, and the review-channel forwarder."""
