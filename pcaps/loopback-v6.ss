# netns host
State      Recv-Q Send-Q Local Address:Port  Peer Address:Port Process
LISTEN     0      4096           [::1]:80            [::]:*           
LISTEN     0      4096           [::1]:83            [::]:*           
LISTEN     0      4096           [::1]:85            [::]:*           
LISTEN     0      4096           [::1]:84            [::]:*           
LISTEN     0      4096           [::1]:86            [::]:*           
LISTEN     0      4096           [::1]:89            [::]:*           
LISTEN     0      4096           [::1]:90            [::]:*           
TIME-WAIT  0      0              [::1]:84           [::1]:40066       
SYN-RECV   0      0              [::1]:89           [::1]:45854       
ESTAB      0      0              [::1]:45854        [::1]:89          
TIME-WAIT  0      0              [::1]:57658        [::1]:85          
SYN-SENT   0      1              [::1]:58414        [::1]:88          
FIN-WAIT-2 0      0              [::1]:42230        [::1]:83          
LAST-ACK   0      1              [::1]:85           [::1]:57658       
TIME-WAIT  0      0              [::1]:40056        [::1]:84          
ESTAB      0      0              [::1]:86           [::1]:59906       
ESTAB      0      0              [::1]:55222        [::1]:80          
CLOSE-WAIT 0      0              [::1]:83           [::1]:42230       
ESTAB      0      0              [::1]:80           [::1]:55222       
FIN-WAIT-1 0      1              [::1]:59906        [::1]:86          
