"""The console's pages, one Sanic blueprint each; ``bot.console.app`` registers them all."""
