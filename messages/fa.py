"""Persian: the source of every message. Plain words for readers with little schooling."""
from __future__ import annotations

FA: dict[str, str] = {
    # the letter form (connector.letters.usecases)
    "letter.applicant_type": "نوع متقاضی را انتخاب کنید: شخص یا شرکت.",
    "letter.national_code": "کد ملی درست نیست. ۱۰ رقم کارت ملی را بنویسید.",
    "letter.national_id": "شناسه ملی شرکت درست نیست. ۱۱ رقم آن را بنویسید.",
    "letter.company_name": "نام شرکت را بنویسید.",
    "letter.first_name": "نام را بنویسید.",
    "letter.last_name": "نام خانوادگی را بنویسید.",
    "letter.subject": "موضوع نامه را بنویسید (حداکثر ۲۰۰ حرف).",
    "letter.body": "متن نامه را بنویسید (حداکثر ۱۰ هزار حرف).",
    "letter.service": "خدمت یا واحد مورد نظر را انتخاب کنید.",
    "letter.reason": "دلیل رد را بنویسید تا برای متقاضی پیامک شود.",
    "survey.score": "یک امتیاز از ۱ تا ۵ انتخاب کنید.",
    # attachments (connector.letters.files)
    "attachments.too_many": "حداکثر {n} پیوست می‌توانید بفرستید.",
    "attachments.too_big": "«{name}» بزرگ‌تر از {mb} مگابایت است.",
    "attachments.not_accepted": "«{name}» پذیرفته نیست. فقط PDF، Word، Excel، JPG و PNG.",
    "attachments.archive": "«{name}» فایل Word یا Excel سالمی به نظر نمی‌رسد: باز شده‌اش بسیار "
                           "بزرگ‌تر از خودش است یا خراب است. فایل را دوباره ذخیره کنید یا PDF "
                           "آن را بفرستید.",
    "attachments.infected": "«{name}» ویروس دارد و پذیرفته نشد. چیزی از آن نگه داشته نشد. فایل "
                            "سالم را بفرستید.",
    "attachments.scan_down": "بررسی ویروس پیوست‌ها الان ممکن نیست. چند دقیقه دیگر دوباره "
                             "بفرستید؛ نوشته‌هایتان سر جایش می‌ماند، فقط پیوست‌ها را دوباره "
                             "انتخاب کنید.",
    "attachments.scan_too_big": "«{name}» را نمی‌شود برای ویروس بررسی کرد. فایل کوچک‌تری "
                                "بفرستید.",
    "attachments.gone": "پیوست‌هایی که انتخاب کرده بودید دیگر اینجا نیستند. لطفا دوباره "
                        "انتخابشان کنید.",
    # one-time codes (connector.people.citizens)
    "otp.mobile": "شماره همراه درست نیست. یک شماره ۱۱ رقمی مانند ۰۹۱۲۳۴۵۶۷۸۹ بنویسید.",
    "otp.code": "کد درست نیست یا وقت آن گذشته است. دوباره کد بگیرید.",
    "otp.wrong": "کد درست نیست. {left} بار دیگر می‌توانید امتحان کنید.",
    "otp.locked": "کد چند بار اشتباه نوشته شد. برای امنیت شما، ورود با این شماره تا {minutes} "
                  "دقیقه دیگر بسته است.",
    # staff accounts (connector.people.staff)
    "staff.password_short": "رمز باید دست‌کم ۸ حرف باشد.",
    "staff.username_taken": "این نام کاربری پیش‌تر ساخته شده است.",
    "staff.role": "نقش را از این‌ها انتخاب کنید: {roles}",
    "staff.orgs": "این سازمان‌ها تعریف نشده‌اند: {orgs}",
    # the SMS outbox (connector.outbox.sms)
    "sms.not_queued": "پیامک {id} در صف ارسال نیست",
    "sms.not_failed": "پیامک {id} در وضعیت «{state}» است؛ فقط پیامکی که نرسیده دوباره "
                      "فرستاده می‌شود",
    # the citizen's timeline (connector.letters.timeline)
    "timeline.submitted": "نامه شما ثبت شد و کد رهگیری گرفت.",
    "timeline.awaiting_approval": "نامه شما در صف بررسی دبیرخانه است.",
    "timeline.approved": "دبیرخانه نامه شما را پذیرفت.",
    "timeline.delivered": "نامه شما به دبیرخانه سازمان رسید.",
    "timeline.registered": "نامه شما با شماره {number} در دبیرخانه ثبت شد.",
    "timeline.rejected": "نامه شما پذیرفته نشد. دلیل: {reason}",
    "timeline.referred": "نامه شما به {unit} فرستاده شد.",
    "timeline.referred_to": "نامه شما به {unit} ({person}) فرستاده شد.",
    "timeline.answered": "به نامه شما پاسخ داده شد.",
    "timeline.closed": "کار نامه شما تمام شد.",
    "timeline.withdrawn": "شما نامه را پس گرفتید.",
    "timeline.other_unit": "واحد دیگر",
    # a letter's state as the citizen reads it, and what comes next
    "status.staged": "رسید؛ به‌زودی به دبیرخانه فرستاده می‌شود",
    "status.awaiting_approval": "در صف بررسی دبیرخانه",
    "status.approved": "دبیرخانه پذیرفت؛ در حال فرستادن",
    "status.delivering": "در حال فرستادن به دبیرخانه",
    "status.delivered": "به دبیرخانه رسید؛ منتظر ثبت",
    "status.registered": "در دبیرخانه ثبت شد",
    "status.in_progress": "در دست رسیدگی",
    "status.answered": "پاسخ داده شد",
    "status.closed": "تمام شد",
    "status.rejected": "پذیرفته نشد",
    # A delivery problem is ours to solve, not the citizen's: say it is on its way.
    "status.delivery_failed": "در حال فرستادن به دبیرخانه",
    "status.dead": "در حال فرستادن به دبیرخانه (با تاخیر)",
    "status.withdrawn": "پس گرفته شد",
    "next.staged": "نامه شما به‌زودی به دبیرخانه سازمان می‌رسد. هر خبری باشد پیامک می‌شود.",
    "next.awaiting_approval": "کارمند دبیرخانه نامه را می‌خواند و می‌پذیرد یا دلیل نپذیرفتن "
                              "را برایتان پیامک می‌کند.",
    "next.delivered": "دبیرخانه نامه را ثبت می‌کند و شماره نامه برایتان پیامک می‌شود.",
    "next.registered": "نامه به واحد مربوط فرستاده می‌شود.",
    "next.in_progress": "واحد مربوط در حال رسیدگی است.",
    "next.answered": "پاسخ نامه آماده است.",
    "applicant.natural": "شخص",
    "applicant.legal": "شرکت یا سازمان",
    "reports.all_units": "همه واحدها",
    # webhook subscriptions (connector.outbox.webhooks)
    "webhook.url": "نشانی باید با https:// (یا http://) شروع شود و نام میزبان داشته باشد.",
    "webhook.secret_env": "نام متغیر محیطی رمز را بنویسید، مانند WEBHOOK_SECRET (خود رمز را "
                          "اینجا ننویسید).",
    "webhook.types": "این نوع رویداد را نمی‌شناسیم: {unknown}. نوع‌های درست: {known} یا *",
    # the citizen pages and the API (portal)
    "track.invalid": "کد رهگیری درست نیست. ۱۲ رقم آن را از پیامک یا رسید دوباره بنویسید.",
    "track.not_yours": "نامه‌ای با این کد رهگیری برای شماره همراه شما پیدا نشد.",
    "withdraw.late": "نامه به دبیرخانه رفته است و دیگر پس گرفته نمی‌شود.",
    "withdraw.done": "نامه شما پس گرفته شد و به سازمان فرستاده نمی‌شود.",
    "survey.closed": "نظر شما پیش‌تر ثبت شده یا کار نامه هنوز تمام نشده است.",
    "desk.mobile": "شماره همراه متقاضی را درست بنویسید (مثل ۰۹۱۲۱۲۳۴۵۶۷). پیامک‌ها به همین "
                   "شماره می‌رود.",
    "error.bad_request": "درخواست کامل یا درست نیست.",
    "error.unauthorized": "اول با کدی که برای شماره همراهتان پیامک می‌شود وارد شوید.",
    "error.forbidden": "اجازه این کار را ندارید.",
    "error.not_found": "پیدا نشد. نشانی یا کد رهگیری را دوباره نگاه کنید.",
    "error.method_not_allowed": "این درخواست به این شکل پذیرفته نیست.",
    "error.conflict": "این کار در وضعیت کنونی نامه ممکن نیست.",
    "error.too_large": "حجم فایل‌ها زیاد است.",
    "error.too_large_total": "حجم فایل‌ها زیاد است. همه پیوست‌ها روی هم باید کمتر از {mb} "
                             "مگابایت باشند. فایل‌های کوچک‌تر یا کمتری بفرستید.",
    "error.rate_limited": "درخواست‌ها زیاد بوده است. کمی بعد دوباره امتحان کنید.",
    "error.wait_seconds": "کمی صبر کنید: {n} ثانیه دیگر دوباره امتحان کنید.",
    "error.wait_minutes": "درخواست‌ها زیاد بوده است. {n} دقیقه دیگر دوباره امتحان کنید.",
    "error.server_error": "خطایی پیش آمد. چند دقیقه دیگر دوباره امتحان کنید.",
    "error.unavailable": "سامانه سازمان الان پاسخ نمی‌دهد. چند دقیقه دیگر دوباره امتحان کنید.",
    "error.validation": "اطلاعات فرستاده‌شده کامل یا درست نیست. پیام کنار هر خانه را ببینید.",
    "error.csrf": "مهلت این فرم تمام شده یا فرم از جای دیگری آمده است. صفحه را دوباره باز کنید "
                  "و دوباره بفرستید.",
    # the in-person desk (connector/visits, portal/visits*.py)
    "visit.national_code": "کد ملی درست نیست. ۱۰ رقم کارت ملی را بنویسید.",
    "visit.passport": "شماره گذرنامه را بنویسید (حرف و رقم لاتین).",
    "visit.nationality": "کشور (تابعیت) مراجع را بنویسید.",
    "visit.first_name": "نام مراجع را بنویسید.",
    "visit.last_name": "نام خانوادگی مراجع را بنویسید.",
    "visit.mobile": "شماره همراه را درست بنویسید (مثل ۰۹۱۲۱۲۳۴۵۶۷) یا خالی بگذارید.",
    "visit.category": "نوع مراجعه را انتخاب کنید.",
    "visit.window": "زمان ملاقات درست نیست: پایان باید بعد از آغاز و در همان هفته باشد.",
    "visit.past": "پایان زمان ملاقات گذشته است.",
    "visit.host": "میزبان را انتخاب کنید.",
    "visit.host_unknown": "میزبان در این سازمان پیدا نشد. نام کاربری او را درست بنویسید.",
    "visit.host_mobile": "شماره همراه میزبان را درست بنویسید (مثل ۰۹۱۲۱۲۳۴۵۶۷).",
    "visit.not_open": "این مراجعه دیگر باز نیست.",
    "visit.blacklisted": "این شخص اجازه ورود ندارد. دلیل: {reason}",
    "visit.blacklist_who": "کد ملی درست یا شماره گذرنامه و کشور را بنویسید.",
    "visit.blacklist_reason": "دلیل را بنویسید؛ نگهبان آن را می‌بیند.",
    "visit.at_admission": "پذیرش",
    "visit.at_registration": "ثبت ملاقات",
    "visit.unknown_card": "کارت ناشناس",
    "alert.blacklisted": "{name}: ممنوع‌الورود ({reason}) — {where}",
    "alert.scan_denied": "دروازه {gate}: {who} — {reason}",
    "gate.unknown": "این کارت شناخته نشد.",
    "gate.early": "هنوز وقت ملاقات نرسیده است.",
    "gate.expired": "مهلت این کارت گذشته است.",
    "gate.used": "این کارت پیش‌تر استفاده شده است.",
    "gate.refused": "ورود این مراجع پذیرفته نشده است.",
    "gate.passback": "این کارت یک بار وارد شده و هنوز خارج نشده است.",
    "gate.not_inside": "این کارت وارد نشده است؛ خروج بدون ورود ممکن نیست.",
    "gate.no_pass": "این مراجعه کارت ورود ندارد.",
    "gate.blacklisted": "ممنوع‌الورود: {reason}",
    "identity.off": "جستجوی ثبت احوال روشن نیست؛ نام را از روی کارت بنویسید.",
    "identity.down": "سامانه ثبت احوال الان پاسخ نمی‌دهد؛ نام را از روی کارت بنویسید.",
    "identity.not_found": "این کد ملی در ثبت احوال پیدا نشد. کد را دوباره نگاه کنید.",
    "identity.dead": "ثبت احوال این شخص را زنده نمی‌داند. کارت را با دقت ببینید.",
    "identity.found": "نام از ثبت احوال آمد. با کارت مقایسه کنید.",
    "identity.not_owner": "این شماره همراه به نام صاحب این کد ملی نیست. شماره‌ای بنویسید که "
                          "به نام خودتان است.",
}
