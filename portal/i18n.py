"""English as a second language for the citizen pages: Persian is the source text and the
default. Two sources: the message catalog (the top-level ``messages`` package) for what the
core and the views say — errors, states, the timeline — by code; and a small table here for the
templates' own words, keyed by their Persian text as gettext would. ``?lang=en`` (or
``?lang=fa``) switches and a cookie remembers it. Text with no entry stays Persian
(organizations' own catalog texts, for one), so a missing entry never breaks a page. The
operator console stays Persian."""
from __future__ import annotations

from typing import Any

from flask import Flask, g, request

import messages
from connector.domain.errors import Message

LOCALES = ("fa", "en")
COOKIE = "lang"

EN: dict[str, str] = {
    # layout
    "میز خدمت الکترونیکی": "Electronic service desk",
    "رفتن به متن صفحه": "Skip to content",
    "فهرست اصلی": "Main menu",
    "پیگیری نامه": "Track a letter",
    "نامه‌های من": "My letters",
    "خروج": "Sign out",
    "ورود": "Sign in",
    "پرسش یا مشکل دارید؟ با کد رهگیری نامه‌تان با سازمان تماس بگیرید.":
        "Questions or problems? Contact the organization with your letter's tracking code.",
    "زبان": "Language",
    # home and catalog
    "نامه به کدام سازمان است؟": "Which organization is your letter for?",
    "سازمان را انتخاب کنید. بعد خدمت‌ها را می‌بینید و می‌توانید نامه بنویسید.":
        "Choose the organization. You will then see its services and can write a letter.",
    "هنوز سازمانی در این سامانه نیست.": "No organization uses this service desk yet.",
    "نامه فرستاده‌اید؟": "Already sent a letter?",
    "نامه‌تان را با کد رهگیری پیگیری کنید.": "Track it with its tracking code.",
    "خدمت مورد نظر را پیدا کنید. روی نام هر خدمت بزنید تا توضیح کامل آن باز شود.":
        "Find the service you need. Tap a service's name to open its full description.",
    "مراحل کار": "Steps", "مدارک لازم": "Documents needed", "قوانین و شرایط": "Rules",
    "زمان انجام": "Time to complete", "هزینه": "Fees", "مسئول پاسخگویی": "Responsible person",
    "اگر راضی نبودید": "If you are not satisfied", "پرسش‌های رایج": "Frequently asked questions",
    "حداکثر {n} روز کاری": "At most {n} working days",
    "نوشتن نامه برای «{title}»": "Write a letter for “{title}”",
    # sign-in
    "ورود با شماره همراه": "Sign in with your mobile number",
    "شماره همراه خود را بنویسید. یک کد ۵ رقمی برایتان پیامک می‌شود.":
        "Enter your mobile number. We will text you a 5-digit code.",
    "شماره همراه": "Mobile number",
    "مانند ۰۹۱۲۳۴۵۶۷۸۹ — با رقم فارسی یا انگلیسی":
        "Like 09123456789 — Persian or Latin digits",
    "فرستادن کد": "Send the code",
    "کد ۵ رقمی به شماره {mobile} پیامک شد. آن را بنویسید.":
        "A 5-digit code was texted to {mobile}. Enter it.",
    "کد پیامک‌شده": "Code from the SMS",
    "۵ رقم — با رقم فارسی یا انگلیسی": "5 digits — Persian or Latin digits",
    "کد نرسید؟": "No code?",
    "{n} ثانیه دیگر می‌توانید کد تازه بگیرید.": "You can ask for a new one in {n} seconds.",
    "می‌توانید کد تازه بگیرید.": "You can ask for a new one.",
    "فرستادن دوباره کد": "Send the code again",
    "شماره را اشتباه نوشته‌اید؟ شماره دیگری بنویسید": "Wrong number? Enter another one",
    # letter form
    "نامه به {org}": "Letter to {org}",
    "همه خانه‌ها را پر کنید. بعد از فرستادن، کد رهگیری می‌گیرید.":
        "Fill in every field. After sending you get a tracking code.",
    "لطفا {n} مورد زیر را درست کنید:": "Please correct the {n} items below:",
    "نامه از طرف": "Letter from", "کد ملی": "National code", "شناسه ملی شرکت":
        "Company national ID", "نام شرکت": "Company name", "نام": "First name",
    "نام خانوادگی": "Last name", "موضوع": "Subject", "متن نامه": "Letter text",
    "خدمت": "Service", "پیوست‌ها": "Attachments", "— انتخاب کنید —": "— choose —",
    "خودم (شخص)": "Myself (a person)", "یک شرکت یا سازمان": "A company or organization",
    "اگر نامه از طرف شرکت است": "If the letter is from a company",
    "۱۱ رقم": "11 digits",
    "نویسنده نامه (برای شرکت: نماینده شرکت)": "Writer of the letter (for a company: its "
                                             "representative)",
    "۱۰ رقم کارت ملی (برای شرکت، کد ملی نماینده؛ اختیاری)":
        "10 digits of the national card (for a company, the representative's; optional)",
    "پیوست‌ها (اختیاری)": "Attachments (optional)",
    "تا {n} فایل PDF، عکس (JPG یا PNG)، Word یا Excel؛ هر کدام حداکثر {mb} مگابایت.":
        "Up to {n} PDF, photo (JPG or PNG), Word or Excel files; each at most {mb} MB.",
    "این فایل‌ها را پیش‌تر فرستادید و نگه داشته شده‌اند. اگر یکی را نمی‌خواهید، تیک آن را "
    "بردارید:": "These files you sent before are kept. Untick any you don't want:",
    "پیوست {n}": "Attachment {n}",
    "دیدن پیش‌نمایش نامه": "Preview the letter",
    "در گام بعد نامه را پیش از فرستادن می‌بینید.": "Next you see the letter before it is sent.",
    # preview
    "پیش‌نمایش نامه": "Preview",
    "نامه را یک بار بخوانید. اگر درست است، «فرستادن نامه» را بزنید. اگر چیزی را باید عوض "
    "کنید، «ویرایش» را بزنید.": "Read the letter once. If it is right, press “Send the "
                               "letter”. To change something, press “Edit”.",
    "سازمان": "Organization", "شرکت": "Company", "نماینده": "Representative",
    "نویسنده": "Writer", "بدون پیوست": "No attachments", "فرستادن نامه": "Send the letter",
    "ویرایش": "Edit", "شناسه ملی": "national ID",
    # receipt and tracking
    "رسید نامه": "Letter receipt", "نامه شما رسید": "Your letter has arrived",
    "کد رهگیری شما:": "Your tracking code:",
    "این کد را یادداشت کنید. همین کد برایتان پیامک هم شد.":
        "Write this code down. It was also texted to you.",
    "تاریخ پایان کار": "Promised completion date",
    "نامه‌های پیوسته": "Linked letters", "اعتراض به نامه": "Objection to letter",
    "مدارک تکمیلی نامه": "More documents for letter", "اعتراض شما": "Your objection",
    "مدارک تکمیلی": "More documents", "مدرکی که سازمان خواسته است": "The document asked for",
    "فایل‌ها": "Files", "فایل PDF، عکس (JPG یا PNG)، Word یا Excel.":
        "A PDF, a photo (JPG or PNG), Word or Excel.", "فایل {n}": "File {n}",
    "فرستادن مدارک": "Send the documents", "اعتراض به نپذیرفتن نامه": "Object to the rejection",
    "اگر با دلیل نپذیرفتن موافق نیستید، تا {day} یک بار می‌توانید اعتراض کنید.":
        "If you disagree with the reason, you may object once, until {day}.",
    "دلیل اعتراض": "Why you object", "پیوست (اختیاری)": "Attachment (optional)",
    "فرستادن اعتراض": "Send the objection",
    "خبرهای نامه چطور برسد؟": "How should we tell you about your letter?",
    "پیامک": "SMS", "ایمیل": "E-mail", "پیامک و ایمیل": "SMS and e-mail",
    "خبرهای نامه": "News of the letter", "راه خبر گرفتن": "How to be told",
    "اختیاری؛ برای خبر با ایمیل لازم است": "Optional; needed for news by e-mail",
    "نشانی ایمیل درست نیست. مانند name@example.com بنویسید.":
        "The e-mail address is not valid. Write it like name@example.com.",
    "برای گرفتن خبر با ایمیل، نشانی ایمیل را بنویسید.":
        "To get the news by e-mail, enter your e-mail address.",
    "بگویید خبرها با پیامک، ایمیل یا هر دو برسد.": "Choose SMS, e-mail or both.",
    "کار نامه تا این روز تمام می‌شود (روزهای کاری شمرده شده‌اند).":
        "Your letter will be dealt with by this day (working days are counted).",
    "زمان فرستادن": "Sent at", "{n} فایل": "{n} files", "بعد چه می‌شود؟": "What happens next?",
    "هر وقت خواستید، با همین کد ببینید نامه‌تان کجاست.":
        "Use this code any time to see where your letter is.",
    "دریافت رسید (PDF)": "Download the receipt (PDF)", "پیگیری این نامه": "Track this letter",
    "کد رهگیری": "Tracking code", "وضعیت": "Status", "شماره نامه": "Letter number",
    "هنوز ثبت نشده": "Not registered yet", "واحد رسیدگی‌کننده": "Handling unit",
    "کارشناس": "Handled by", "دلیل نپذیرفتن": "Reason for refusal", "پاسخ": "Reply",
    "پاسخ نامه آماده است.": "The reply is ready.", "دریافت پاسخ": "Download the reply",
    "دریافت رسید نامه (PDF)": "Download the letter's receipt (PDF)",
    "مراحل نامه": "The letter's steps", "پس گرفتن نامه": "Take the letter back",
    "تا وقتی نامه به دبیرخانه نرفته است می‌توانید آن را پس بگیرید.":
        "You can take the letter back until it goes to the secretariat.",
    "از نظر شما سپاسگزاریم.": "Thank you for your opinion.",
    "از کار ما راضی بودید؟": "Were you satisfied with our work?",
    "امتیاز شما (۱ یعنی خیلی بد، ۵ یعنی خیلی خوب)": "Your score (1 very bad, 5 very good)",
    "نظر شما (اختیاری)": "Your comment (optional)", "ثبت نظر": "Send",
    "۱۲ رقم، از پیامک یا رسید — با رقم فارسی یا انگلیسی":
        "12 digits, from the SMS or the receipt — Persian or Latin digits",
    "دیدن نامه": "Show the letter", "همه نامه‌های من": "All my letters",
    "برای دیدن نامه، با همان شماره همراهی که نامه را با آن فرستادید وارد شوید. این کار برای آن "
    "است که کسی جز شما نامه‌تان را نبیند.": "To see the letter, sign in with the mobile "
    "number you sent it from, so that no one else can see it.",
    "هنوز نامه‌ای با این شماره همراه نفرستاده‌اید.":
        "You have not sent a letter with this mobile number yet.",
    "نوشتن نامه": "Write a letter", "کد": "code",
    "آیا مطمئن هستید که می‌خواهید نامه «{subject}» با کد {code} را پس بگیرید؟ نامه پس‌گرفته به "
    "سازمان فرستاده نمی‌شود و نمی‌توانید آن را برگردانید.": "Are you sure you want to take "
    "back the letter “{subject}” with code {code}? It will not be sent to the organization and "
    "this cannot be undone.",
    "بله، نامه را پس می‌گیرم": "Yes, take it back", "نه، برگردم": "No, go back",
    "نامه شما پس گرفته شد و به سازمان فرستاده نمی‌شود.":
        "Your letter was taken back and will not be sent to the organization.",
    # errors
    "پیدا نشد": "Not found", "خطا": "Error", "درخواست انجام نشد": "The request was not done",
    "برگشت به صفحه اول": "Back to the first page",
}


def locale() -> str:
    if "locale" not in g:
        chosen = request.args.get("lang") or request.cookies.get(COOKIE) or "fa"
        g.locale = chosen if chosen in LOCALES and request.blueprint != "console" else "fa"
    return str(g.locale)


def translate(text: Message | str, **values: Any) -> str:
    """``_(...)`` in templates: a catalog message (or its code) in the chosen language, or a
    template's Persian text, in English when chosen and known; {names} filled."""
    if isinstance(text, Message) or text in messages.FA:
        return messages.render(text, locale(), **values)
    if locale() == "en":
        text = EN.get(text, text)
    return text.format(**values) if values else text


def localized(value: Any, chosen: str = "fa") -> Any:
    """A value with every catalog message in it rendered (the JSON API speaks Persian)."""
    if isinstance(value, Message):
        return messages.render(value, chosen)
    if isinstance(value, dict):
        return {k: localized(v, chosen) for k, v in value.items()}
    if isinstance(value, list):
        return [localized(v, chosen) for v in value]
    return value


def register(app: Flask) -> None:
    app.jinja_env.globals.update(_=translate, locale=locale)

    @app.after_request
    def _remember(response: Any) -> Any:
        chosen = request.args.get("lang")
        if chosen in LOCALES and chosen != request.cookies.get(COOKIE):
            response.set_cookie(COOKIE, chosen, max_age=365 * 24 * 3600, samesite="Lax",
                                secure=bool(app.config.get("SESSION_COOKIE_SECURE")),
                                httponly=True)
        return response
