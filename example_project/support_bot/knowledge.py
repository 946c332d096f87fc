"""The bot's knowledge: intents, the words that signal them, and canned answers."""

INTENT_KEYWORDS = {
    "refund": ("refund", "money back", "reimburse"),
    "shipping": ("ship", "delivery", "arrive", "tracking"),
    "password": ("password", "log in", "login", "locked out"),
    "cancel": ("cancel", "unsubscribe", "stop my subscription"),
    "hours": ("open", "hours", "closing time"),
}

ANSWERS = {
    "refund": "You can request a refund within 30 days from Orders > Request refund.",
    "shipping": "Orders ship within 2 business days; tracking links arrive by email.",
    "password": "Reset your password from the login page with 'Forgot password'.",
    "cancel": "Cancel any time from Settings > Subscription > Cancel.",
    "hours": "Support is open 9:00-17:00 CET, Monday to Friday.",
    "unknown": "Sorry, I don't know that yet. A human agent will follow up.",
}
