;;; instant-edit-eglot.el --- instant-edit through eglot  -*- lexical-binding: t -*-

;; Version: 0.1.0
;; Package-Requires: ((emacs "28.1") (eglot "1.9"))

;;; Commentary:
;; Registers `instant-edit serve' with eglot and adds commands for the server's actions.
;; Code actions (Regenerate / Repair / Fill placeholders) also show in `eglot-code-actions'.
;;
;;   (require 'instant-edit-eglot)
;;   (add-hook 'python-mode-hook #'eglot-ensure)
;;
;; Eglot has no inline completion; the server's `textDocument/completion' fallback works with
;; `completion-at-point' (and company/corfu).

;;; Code:

(require 'eglot)

(defgroup instant-edit nil
  "Rewrite code with a diffusion language model, through eglot."
  :group 'tools)

(defcustom instant-edit-command '("instant-edit" "serve")
  "The server command and its arguments."
  :type '(repeat string))

(defcustom instant-edit-modes
  '(python-mode python-ts-mode js-mode js-ts-mode typescript-mode typescript-ts-mode lua-mode
    c-mode c-ts-mode c++-mode c++-ts-mode rust-mode rust-ts-mode go-mode go-ts-mode java-mode ruby-mode sh-mode)
  "Major modes eglot manages with instant-edit."
  :type '(repeat symbol))

(defcustom instant-edit-initialization-options
  '(:device "auto" :threshold 0.9 :maxSteps 0 :contextTokens 512 :inlineCompletion :json-false)
  "Sent as initializationOptions (camelCase keys, as the server reads them)."
  :type 'plist)

(defun instant-edit-eglot-contact (&optional _interactive)
  "The eglot contact for instant-edit: command, arguments and initializationOptions."
  (append instant-edit-command (list :initializationOptions instant-edit-initialization-options)))

;;;###autoload
(defun instant-edit-eglot-register ()
  "Put instant-edit first in `eglot-server-programs' for `instant-edit-modes'."
  (add-to-list 'eglot-server-programs (cons instant-edit-modes #'instant-edit-eglot-contact)))

(defun instant-edit--region ()
  "The region, or the current line when there is none."
  (if (use-region-p)
      (cons (region-beginning) (region-end))
    (cons (line-beginning-position) (line-end-position))))

(defun instant-edit--run (command &rest extra)
  "Ask the server to run COMMAND on the region; it applies the edit through workspace/applyEdit."
  ;; Eglot sends buffer changes on an idle timer and flushes them only before deferred requests, which
  ;; workspace/executeCommand is not: without this the server edits the text it last saw (after an applied code
  ;; action, the previous version) and eglot refuses the edit ("require version N, you have N+1").
  (eglot--signal-textDocument/didChange)
  (let* ((server (eglot--current-server-or-lose))
         (region (instant-edit--region))
         (document (eglot--VersionedTextDocumentIdentifier))
         ;; The version lets the server refuse a request made for text it no longer has.
         (arg (append (list :uri (plist-get document :uri) :version (plist-get document :version)
                            :range (list :start (eglot--pos-to-lsp-position (car region))
                                         :end (eglot--pos-to-lsp-position (cdr region))))
                      extra))
         (result (eglot-execute-command server command (vector arg))))
    (when-let ((message (plist-get result :message)))
      (unless (string-empty-p message) (message "instant-edit: %s" message)))
    result))

(defun instant-edit-regenerate ()
  "Regenerate the region."
  (interactive)
  (instant-edit--run 'instantEdit.regenerate))

(defun instant-edit-repair ()
  "Repair the region: reopen unlikely tokens and fix them."
  (interactive)
  (instant-edit--run 'instantEdit.repair))

(defun instant-edit-fill ()
  "Fill the placeholders in the region."
  (interactive)
  (instant-edit--run 'instantEdit.fill))

(defun instant-edit-rewrite (instruction)
  "Rewrite the region following INSTRUCTION."
  (interactive "sRewrite the region how? ")
  (instant-edit--run 'instantEdit.rewrite :instruction instruction))

(defun instant-edit-translate (language)
  "Translate the region to LANGUAGE."
  (interactive (list (completing-read "Translate to: " '("python" "javascript" "typescript" "lua" "c" "cpp"
                                                          "rust" "go" "java" "ruby" "bash"))))
  (instant-edit--run 'instantEdit.translate :language language))

(with-eval-after-load 'eglot (instant-edit-eglot-register))
(instant-edit-eglot-register)

(provide 'instant-edit-eglot)
;;; instant-edit-eglot.el ends here
