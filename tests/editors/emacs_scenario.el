;;; emacs_scenario.el --- eglot applies an instant-edit code action (tests/editors/test_emacs.py)  -*- lexical-binding: t -*-
;; Run: emacs --batch -l emacs_scenario.el (no -Q: Debian's site-start puts eglot on the load path).
;; Inputs come from IE_* environment variables; the outcome goes to $IE_RESULT as JSON. Errors exit 1.

(require 'cl-lib)
(require 'json)
(require 'eglot)
(require 'python)
(load (expand-file-name "../../editors/emacs/instant-edit-eglot.el" (file-name-directory load-file-name)))

(defvar ie-out nil "The result, an alist written as JSON.")
(defvar ie-titles nil "Titles of the code actions eglot offered.")

(defun ie-env (name) (or (getenv name) (error "%s is not set" name)))

(defun ie-write ()
  (with-temp-file (ie-env "IE_RESULT")
    (insert (json-encode ie-out))))

(defun ie-pick (action-title)
  "A `completing-read' stand-in that records the offered titles and picks ACTION-TITLE."
  (lambda (_prompt collection &rest _)
    (setq ie-titles (mapcar #'car collection))
    action-title))

(defun ie-region (first last)
  "Buffer positions of lines FIRST..LAST (1-based), whole lines."
  (save-excursion
    (goto-char (point-min)) (forward-line (1- first))
    (let ((beg (point)))
      (forward-line (- last first)) (end-of-line)
      (cons beg (point)))))

(defun ie-scenario ()
  ;; The recipe (editors/emacs), plus what batch mode needs: no prompts, a longer request timeout.
  (setq instant-edit-command (append (json-read-from-string (ie-env "IE_CMD")) nil)
        eglot-confirm-server-initiated-edits nil
        eglot-sync-connect 30
        jsonrpc-default-request-timeout 120)
  (find-file (ie-env "IE_FILE"))
  (python-mode)
  ;; `eglot-ensure' waits for the command loop, which batch mode never runs: connect directly.
  (apply #'eglot (eglot--guess-contact))
  (with-timeout (30 (error "eglot did not connect within 30 s"))
    (while (not (eglot-current-server)) (accept-process-output nil 0.1)))
  (let* ((region (ie-region 1 2))
         (before (buffer-string))
         (title "Repair selection"))
    (cl-letf (((symbol-function 'completing-read) (ie-pick title)))
      (let ((last-nonmenu-event 13))  ; a key, not a mouse event: eglot then asks through completing-read
        (eglot-code-actions (car region) (cdr region) "refactor.rewrite" t)))
    (let* ((after-action (buffer-string))
           (rewrite-region (ie-region 5 7))
           (rewrite (progn (set-mark (car rewrite-region)) (goto-char (cdr rewrite-region)) (activate-mark)
                           (instant-edit-rewrite (ie-env "IE_INSTRUCTION")))))
      (save-buffer)
      (setq ie-out `((titles . ,(vconcat ie-titles)) (chosen . ,title) (before . ,before)
                     (after_action . ,after-action) (rewrite . ,rewrite) (after . ,(buffer-string))
                     (server . ,(eglot--server-info (eglot-current-server))))))))

(condition-case err
    (progn (ie-scenario) (ie-write) (kill-emacs 0))
  (error
   (setq ie-out `((failure . ,(error-message-string err))))
   (ignore-errors (ie-write))
   (message "scenario failed: %s" (error-message-string err))
   (kill-emacs 1)))
